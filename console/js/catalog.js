// What the create form offers, mirroring docs/API.md (layers/common/python/videotasks/domain/catalog.py).
// The API stays the judge: a deployment with other AllowedModels answers 400 and the console shows why.

export const MODELS = {
  VIDEO: [
    { id: "sora-2", seconds: [4, 8, 12], sizes: ["720x1280", "1280x720"] },
    { id: "sora-2-pro", seconds: [4, 8, 12], sizes: ["720x1280", "1280x720", "1024x1792", "1792x1024"] },
    { id: "sora_video2", seconds: [10, 15], sizes: ["720x1280", "1280x720"] },
  ],
  IMAGE: [{ id: "gpt-image-1", seconds: [], sizes: ["1024x1024", "1536x1024", "1024x1536", "auto"] }],
};

const SIZE_NAMES = {
  "720x1280": "portrait",
  "1280x720": "landscape",
  "1024x1792": "tall portrait",
  "1792x1024": "wide landscape",
  "1024x1024": "square",
  "1536x1024": "landscape",
  "1024x1536": "portrait",
  auto: "chosen by the model",
};

export function sizeLabel(size) {
  const name = SIZE_NAMES[size];
  return name ? `${size} (${name})` : size;
}

export function modelSpec(type, modelId) {
  const models = MODELS[type] || MODELS.VIDEO;
  return models.find((model) => model.id === modelId) || models[0];
}
