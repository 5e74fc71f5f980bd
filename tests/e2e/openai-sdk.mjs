// Drives a SharpGPT server with the official OpenAI SDK (npm "openai"): completions (plain, streaming,
// n > 1, logprobs with echo, stop) and chat completions (plain and streaming). Usage: node openai-sdk.mjs BASE_URL
import OpenAI from "openai";

const baseURL = process.argv[2];
const client = new OpenAI({ baseURL, apiKey: process.env.SHARPGPT_API_KEY ?? "not-needed" });
const failures = [];
function check(condition, message) {
  if (!condition) failures.push(message);
}

const model = (await client.models.list()).data[0].id;

const plain = await client.completions.create({ model, prompt: "Hello there", max_tokens: 6, seed: 11, temperature: 1 });
check(plain.object === "text_completion", "plain: object");
check(plain.choices.length === 1 && typeof plain.choices[0].text === "string", "plain: one text choice");
check(plain.usage.completion_tokens >= 1 && plain.usage.total_tokens === plain.usage.prompt_tokens + plain.usage.completion_tokens, "plain: usage");

const stream = await client.completions.create({ model, prompt: "Hello there", max_tokens: 6, seed: 11, temperature: 1, stream: true });
let streamed = "";
let finish = null;
for await (const chunk of stream) {
  streamed += chunk.choices[0]?.text ?? "";
  finish = chunk.choices[0]?.finish_reason ?? finish;
}
check(streamed === plain.choices[0].text, `streaming: ${JSON.stringify(streamed)} vs ${JSON.stringify(plain.choices[0].text)}`);
check(finish !== null, "streaming: finish_reason");

const many = await client.completions.create({ model, prompt: ["One", "Two"], max_tokens: 3, n: 3, seed: 5 });
check(many.choices.length === 6, "n > 1: six choices for two prompts");
check(JSON.stringify(many.choices.map((c) => c.index)) === "[0,1,2,3,4,5]", "n > 1: indexes");

const echo = await client.completions.create({ model, prompt: "The cat sat on the mat", max_tokens: 1, temperature: 0, logprobs: 1, echo: true });
const logprobs = echo.choices[0].logprobs;
check(echo.choices[0].text.startsWith("The cat sat on the mat"), "echo: prompt text returned");
check(logprobs.token_logprobs[0] === null, "echo: first token has no log-probability");
check(logprobs.token_logprobs.slice(1).every((v) => typeof v === "number" && v <= 0), "echo: log-probabilities");
check(logprobs.tokens.length === logprobs.text_offset.length && logprobs.tokens.length === logprobs.top_logprobs.length, "echo: parallel arrays");

const free = await client.completions.create({ model, prompt: "Count", max_tokens: 10, temperature: 0 });
const text = free.choices[0].text;
if (text.length >= 4) {
  const stop = text.slice(2, 4);
  const stopped = await client.completions.create({ model, prompt: "Count", max_tokens: 10, temperature: 0, stop: [stop] });
  check(stopped.choices[0].text === text.slice(0, text.indexOf(stop)), "stop: text cut before the stop sequence");
  check(stopped.choices[0].finish_reason === "stop", "stop: finish_reason");
}

const chat = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Say something." }], max_tokens: 5, seed: 3 });
check(chat.object === "chat.completion", "chat: object");
check(chat.choices[0].message.role === "assistant" && typeof chat.choices[0].message.content === "string", "chat: assistant message");

const chatStream = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Say something." }], max_tokens: 5, seed: 3, stream: true });
let chatText = "";
for await (const chunk of chatStream) chatText += chunk.choices[0]?.delta?.content ?? "";
check(chatText === chat.choices[0].message.content, `chat streaming: ${JSON.stringify(chatText)} vs ${JSON.stringify(chat.choices[0].message.content)}`);

try {
  await client.completions.create({ model: "no-such-model", prompt: "x" });
  check(false, "errors: an unknown model must fail");
} catch (error) {
  check(error.status === 404, `errors: unknown model status ${error.status}`);
}

if (failures.length) {
  console.error("FAILED:\n" + failures.join("\n"));
  process.exit(1);
}
console.log("openai SDK checks passed");
