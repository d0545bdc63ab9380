// What the create form offers: the models the API lists (GET /models) for the connected deployment,
// each with the seconds and sizes it takes. The API stays the judge: a value it refuses is a 400 the
// console shows.

import { t } from "./i18n.js";

let catalog = { items: [], defaults: {} };

export function setCatalog({ items = [], default: video = null, defaultImage: image = null } = {}) {
  catalog = { items, defaults: { VIDEO: video, IMAGE: image } };
}

export function modelsOf(type) {
  return catalog.items.filter((model) => model.type === type);
}

export function defaultModel(type) {
  const models = modelsOf(type);
  return models.find((model) => model.id === catalog.defaults[type])?.id ?? models[0]?.id ?? null;
}

export function modelSpec(type, modelId) {
  const models = modelsOf(type);
  return models.find((model) => model.id === modelId) || models[0] || { id: "", seconds: [], sizes: [] };
}

// Whether a finished video of `modelId` can be remixed (GET /models lists each model's capabilities).
export function canRemix(modelId) {
  return Boolean(catalog.items.find((model) => model.id === modelId)?.capabilities?.remix);
}

export function modelLabel(model) {
  return model.provider ? `${model.id} (${model.provider})` : model.id;
}

const SIZE_NAMES = {
  "720x1280": "portrait",
  "1280x720": "landscape",
  "1080x1920": "portrait",
  "1920x1080": "landscape",
  "1024x1792": "tallPortrait",
  "1792x1024": "wideLandscape",
  "1024x1024": "square",
  "1536x1024": "landscape",
  "1024x1536": "portrait",
  auto: "auto",
};

export function sizeLabel(size) {
  const name = SIZE_NAMES[size];
  return name ? `${size} (${t(`size.${name}`)})` : size;
}

// A text GET /models gives either as a string or per language ({en, "zh-CN"}): the reader's, else English.
function localised(value, language) {
  if (!value) return null;
  if (typeof value === "string" || Array.isArray(value)) return value;
  return value[language] ?? value[language.split("-")[0]] ?? value.en ?? null;
}

// What the model is for, when the deployment describes it; nothing otherwise (its name says enough).
export function modelDescription(model, language) {
  const text = localised(model?.description ?? model?.descriptions, language);
  return typeof text === "string" ? text : "";
}

// The model's example prompts, when the deployment lists some.
export function examplesOf(model, language) {
  const examples = localised(model?.examplePrompts ?? model?.examples, language);
  return Array.isArray(examples) ? examples.filter((prompt) => typeof prompt === "string" && prompt.trim()) : [];
}
