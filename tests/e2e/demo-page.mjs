// Opens the demo page in headless Chromium (Debian's, via playwright-core), on a phone-sized screen, using the
// keyboard only: types a prompt, picks greedy decoding, generates with Ctrl+Enter, checks that text streams in
// token by token with probability colours, and saves a screenshot. Usage: node demo-page.mjs URL SCREENSHOT
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.on("pageerror", (error) => { console.error("page error: " + error); failed = true; });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector("#model").options.length > 0);

  // Keyboard only: the prompt is the first control in tab order.
  await page.keyboard.press("Tab");
  if (await page.evaluate(() => document.activeElement.id) !== "prompt") throw new Error("Tab does not reach the prompt first");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("Once upon a time there was");
  // Tab to the algorithm selector and choose Greedy with the arrow keys.
  for (let i = 0; i < 10 && await page.evaluate(() => document.activeElement.id) !== "algorithm"; i++) await page.keyboard.press("Tab");
  if (await page.evaluate(() => document.activeElement.id) !== "algorithm") throw new Error("the algorithm selector is not reachable by keyboard");
  await page.keyboard.press("ArrowUp");
  if (await page.evaluate(() => document.querySelector("#algorithm").value) !== "greedy") throw new Error("the arrow keys do not change the algorithm");
  if (await page.evaluate(() => !document.querySelector("#temperature").closest("[data-for]").hidden)) throw new Error("greedy still shows the temperature");

  // Count how many times the output grows while generating: streaming means many small additions.
  await page.evaluate(() => {
    window.__additions = 0;
    new MutationObserver((records) => { window.__additions += records.reduce((n, r) => n + r.addedNodes.length, 0); })
      .observe(document.querySelector("#output"), { childList: true });
  });
  await page.keyboard.press("Control+Enter");
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("Finished"), null, { timeout: 60000 });
  const result = await page.evaluate(() => ({
    tokens: document.querySelectorAll("#output .token").length,
    additions: window.__additions,
    text: document.querySelector("#output").innerText,
    status: document.querySelector("#status").textContent,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  }));
  console.log(JSON.stringify(result));
  if (result.tokens < 3) throw new Error(`expected streamed tokens, got ${result.tokens}`);
  if (result.additions < result.tokens) throw new Error("tokens did not arrive one by one");
  if (!result.text.startsWith("Once upon a time there was")) throw new Error("the prompt is not shown");
  if (!/prompt \d+ tokens · completion \d+ tokens/.test(result.status)) throw new Error("finish reason and token counts missing: " + result.status);
  if (result.overflow > 1) throw new Error(`the page scrolls sideways on a narrow screen (${result.overflow}px)`);
  // Hovering a token shows its alternatives.
  await page.hover("#output .token");
  const alternatives = await page.evaluate(() => getComputedStyle(document.querySelector("#output .token .alternatives")).display);
  if (alternatives === "none") throw new Error("token alternatives are not shown on hover");
  await page.screenshot({ path: screenshot, fullPage: true });
} catch (error) {
  console.error("FAILED: " + error.message);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
