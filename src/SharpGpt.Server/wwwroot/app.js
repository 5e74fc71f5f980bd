// SharpGPT playground: streams /v1/completions and renders each token as it arrives.
"use strict";
const $ = (id) => document.getElementById(id);
let controller = null;

function visibleParameters() {
  const algorithm = $("algorithm").value;
  for (const element of document.querySelectorAll("[data-for]")) {
    element.hidden = !element.dataset.for.split(" ").includes(algorithm);
  }
}

async function loadModels() {
  try {
    const response = await fetch("v1/models", { headers: headers() });
    const body = await response.json();
    $("model").innerHTML = "";
    for (const model of body.data ?? []) {
      const option = document.createElement("option");
      option.value = option.textContent = model.id;
      $("model").append(option);
    }
  } catch (error) {
    $("status").textContent = "Could not list models: " + error;
  }
}

function headers() {
  const result = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) result.Authorization = "Bearer " + key;
  return result;
}

function buildRequest() {
  const algorithm = $("algorithm").value;
  const request = {
    model: $("model").value || undefined,
    prompt: $("prompt").value,
    max_tokens: Number($("max-tokens").value) || 16,
    stream: true,
    stream_options: { include_usage: true },
    temperature: algorithm === "greedy" ? 0 : Number($("temperature").value),
  };
  if (algorithm === "top-k") request.top_k = Number($("top-k").value);
  if (algorithm === "top-p") request.top_p = Number($("top-p").value);
  if ($("seed").value !== "") request.seed = Number($("seed").value);
  const stops = $("stop").value.split("\n").filter((s) => s.length > 0).slice(0, 4);
  if (stops.length) request.stop = stops;
  if ($("show-probabilities").checked) request.logprobs = 5;
  return request;
}

function colourFor(probability) {
  // Red (unlikely) through yellow to green (likely).
  const hue = Math.round(120 * Math.min(1, Math.max(0, probability)));
  return `hsl(${hue}, 70%, 82%)`;
}

function appendToken(text, logprobs) {
  const output = $("output");
  if (!logprobs || !$("show-probabilities").checked) {
    output.append(document.createTextNode(text));
    return;
  }
  const span = document.createElement("span");
  span.className = "token";
  span.tabIndex = 0;
  const probability = Math.exp(logprobs.token_logprobs[0]);
  span.style.background = colourFor(probability);
  span.append(document.createTextNode(text));
  const alternatives = document.createElement("span");
  alternatives.className = "alternatives";
  const top = Object.entries(logprobs.top_logprobs[0] ?? {}).sort((a, b) => b[1] - a[1]);
  alternatives.textContent = `p = ${(100 * probability).toFixed(1)}%\n` +
    top.map(([token, lp]) => `${JSON.stringify(token)}  ${(100 * Math.exp(lp)).toFixed(1)}%`).join("\n");
  span.setAttribute("aria-label", `${text} (${(100 * probability).toFixed(0)} percent)`);
  span.append(alternatives);
  output.append(span);
}

async function generate(event) {
  event?.preventDefault();
  if (controller) return;
  const output = $("output");
  output.textContent = "";
  const prompt = document.createElement("span");
  prompt.className = "prompt";
  prompt.textContent = $("prompt").value;
  output.append(prompt);
  $("status").textContent = "Generating…";
  controller = new AbortController();
  $("generate").disabled = true;
  $("stop-button").disabled = false;
  const started = performance.now();
  let tokens = 0, finish = null, usage = null;
  try {
    const response = await fetch("v1/completions", { method: "POST", headers: headers(), body: JSON.stringify(buildRequest()), signal: controller.signal });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error?.message ?? `HTTP ${response.status}`);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, boundary).trim();
        buffer = buffer.slice(boundary + 2);
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices ?? []) {
          if (choice.text) { appendToken(choice.text, choice.logprobs); tokens++; }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
    }
    const seconds = (performance.now() - started) / 1000;
    $("status").textContent = `Finished: ${finish ?? "?"} · prompt ${usage?.prompt_tokens ?? "?"} tokens · ` +
      `completion ${usage?.completion_tokens ?? tokens} tokens · ${((usage?.completion_tokens ?? tokens) / seconds).toFixed(1)} tokens/s`;
  } catch (error) {
    $("status").textContent = error.name === "AbortError" ? "Stopped." : "Error: " + error.message;
  } finally {
    controller = null;
    $("generate").disabled = false;
    $("stop-button").disabled = true;
  }
}

$("form").addEventListener("submit", generate);
$("stop-button").addEventListener("click", () => controller?.abort());
$("algorithm").addEventListener("change", visibleParameters);
$("api-key").addEventListener("change", loadModels);
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) generate(event);
  if (event.key === "Escape") controller?.abort();
});
visibleParameters();
loadModels();
