// Where the console connects: API URL, WebSocket URL and token, kept in localStorage.
//
// The local stack serves /console-config.json with all three filled in. Its values win when they
// differ from the ones last seen (the stack restarted with other ports or another secret); otherwise
// what the person saved wins, so edits survive a reload. A static host can serve its own
// console-config.json (the committed one is empty) to pre-fill the URLs of a deployed stack.

const STORAGE_KEY = "videotasks.console.config.v1";
const FIELDS = ["apiUrl", "wsUrl", "token"];

function clean(values) {
  const result = {};
  for (const name of FIELDS) result[name] = typeof values?.[name] === "string" ? values[name].trim() : "";
  return result;
}

function same(a, b) {
  return FIELDS.every((name) => (a?.[name] || "") === (b?.[name] || ""));
}

function readStored() {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null; // storage disabled or corrupt: start from the pre-fill
  }
}

async function fetchPrefill() {
  try {
    const response = await fetch("console-config.json", { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) return null;
    const values = clean(await response.json());
    return FIELDS.some((name) => values[name]) ? values : null;
  } catch {
    return null;
  }
}

export async function loadConfig() {
  const stored = readStored();
  const prefill = await fetchPrefill();
  if (prefill && (!stored || !same(stored.prefill, prefill))) {
    const values = { ...clean(stored?.values), ...Object.fromEntries(Object.entries(prefill).filter(([, v]) => v)) };
    save(values, prefill);
    return { values, source: "local stack" };
  }
  if (stored?.values) return { values: clean(stored.values), source: "saved" };
  return { values: clean({}), source: "none" };
}

function save(values, prefill) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ values: clean(values), prefill: prefill || null }));
    return true;
  } catch {
    return false;
  }
}

export function saveConfig(values) {
  return save(values, readStored()?.prefill || null);
}

export function forgetConfig() {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored, nothing to forget
  }
}

export function isComplete(values) {
  return Boolean(values.apiUrl && values.token);
}
