// The chat page and the admin dashboard in headless Chromium (tests/browser.rs), driven over the
// DevTools protocol by puppeteer-core (pinned in tests/package.json) and the system's chromium.
// Same protocol as the other scripts (see lib.mjs).
//
// stdin: {
//   "url": "http://127.0.0.1:PORT"  the chat example, started with ADMIN_PASSWORD,
//   "password": "...",               that password,
//   "chromium": "/usr/bin/chromium",
//   "shots": "/path/to/dir",         where the screenshots go,
//   "timeout_ms": hard timeout (default 90000),
//   "chat_only": true to stop after the chat page (a chat started without ADMIN_PASSWORD, e.g.
//                with PARSER=msgpack); the page then also reports {"parser": "msgpack"|"json"}
// }
// Prints:
//   {"chat": {"mode", "status", "a_got", "b_got", "left"}}  for mode polling, websocket, upgrade:
//       the transport the page says it uses, what each tab saw the other say, and whether the
//       remaining tab was told `<nick> left` when the other closed
//   {"admin_refused": "<error text>"}                       the dashboard with a wrong password
//   {"admin": {"sockets": bool, "rooms": bool}}             the sockets page lists both chat
//       sockets, the rooms page the room `lobby`
//   {"join": "<rooms line>"}                                the chat tab's rooms after the
//       dashboard's "join" action on its socket
//   {"disconnect": "<reason>"}                              the chat tab's disconnect reason
//       after the dashboard's "disconnect" action on its socket
//   {"shot": "<path>"}                                      each screenshot written
//   {"step": "<name>", "ms": n}                             progress, to find a slow step
import puppeteer from "puppeteer-core";
import { exit, hardTimeout, out, scenarioArgs, sleep } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 90000);

const started = Date.now();
const browser = await puppeteer.launch({
  executablePath: args.chromium,
  headless: true,
  // As root in a container, Chromium's sandbox cannot start.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});

/** Prints how long the script has run, for a slow step. */
function step(name) {
  out({ step: name, ms: Date.now() - started });
}

async function shot(page, name) {
  await page.bringToFront(); // a tab in the background may never paint
  const path = `${args.shots}/${name}.png`;
  await page.screenshot({ path });
  out({ shot: path });
}

/** Waits until the page's #log holds a line with `text`. It checks every 100 ms rather than
 *  at each animation frame (puppeteer's default): a tab in the background gets no frames, and
 *  with two tabs open one of them always is. */
async function waitLog(page, text, timeout = 10000) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("#log div")].some((d) => d.textContent.includes(t)),
    { timeout, polling: 100 },
    text,
  );
}

/** Opens the chat page, logs in as `nick` and joins `lobby`. */
async function chatTab(query, nick) {
  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 700 });
  await page.goto(`${args.url}/${query}`, { waitUntil: "load" });
  await page.$eval("#nick", (e, v) => { e.value = v; }, nick);
  await page.$eval("#login button", (b) => b.click());
  await waitLog(page, `logged in as ${nick}`);
  await page.$eval("#join", (b) => b.click());
  await waitLog(page, "rooms: lobby");
  return page;
}

async function say(page, text) {
  await page.$eval("#text", (e, v) => { e.value = v; }, text);
  await page.$eval("#say", (f) => f.requestSubmit());
}

// ------------------------------------------------------------------------------------------
// The chat page on each transport: two tabs talk, one closes.

for (const mode of ["polling", "websocket", "upgrade"]) {
  const query = mode === "upgrade" ? "" : `?transport=${mode}`;
  step(`chat ${mode}`);
  const a = await chatTab(query, `alice-${mode}`);
  step("a");
  const b = await chatTab(query, `bob-${mode}`);
  if (mode === "upgrade") {
    await a.waitForFunction(() => socket.io.engine.transport.name === "websocket", { timeout: 10000, polling: 100 });
  }
  const status = await a.evaluate(() => `connected over ${socket.io.engine.transport.name}`);
  await say(a, `hello from alice over ${mode}`);
  await say(b, `hello from bob over ${mode}`);
  let aGot = true, bGot = true;
  await waitLog(b, `[lobby] alice-${mode}: hello from alice over ${mode}`).catch(() => { bGot = false; });
  await waitLog(a, `[lobby] bob-${mode}: hello from bob over ${mode}`).catch(() => { aGot = false; });
  if (mode === "upgrade") await shot(a, "chat");
  step("said");
  await b.close({ runBeforeUnload: true });
  let left = true;
  await waitLog(a, `bob-${mode} left`, 15000).catch(() => { left = false; });
  out({ chat: { mode, status, a_got: aGot, b_got: bGot, left } });
  await a.close();
}

if (args.chat_only) {
  // Which parser the page's socket.io-client speaks: the msgpack build encodes packets as
  // binary (socket.io-msgpack-parser's Encoder yields one Uint8Array-like value).
  const page = await chatTab("", "probe");
  const parser = await page.evaluate(() => {
    const [encoded] = new socket.io.encoder.constructor().encode({ type: 2, nsp: "/", data: ["x"] });
    return typeof encoded === "string" ? "json" : "msgpack";
  });
  out({ parser });
  await browser.close();
  exit(0);
}

// ------------------------------------------------------------------------------------------
// The dashboard: refused, then logged in; it lists the chat's sockets and rooms, and its
// "join" and "disconnect" act on live chat tabs.

step("admin");
const alice = await chatTab("", "alice");
const bob = await chatTab("", "bob");
const aliceId = await alice.evaluate(() => socket.id);
const bobId = await bob.evaluate(() => socket.id);

const admin = await browser.newPage();
await admin.setViewport({ width: 1280, height: 800 });
await admin.goto(`${args.url}/admin/`, { waitUntil: "load" });
await admin.waitForSelector(".v-dialog input[type=password]", { visible: true });

async function login(password) {
  const fields = await admin.$$(".v-dialog input");
  const values = [args.url, "admin", password];
  for (let i = 0; i < 3; i++) {
    await fields[i].click({ clickCount: 3 });
    await fields[i].press("Backspace");
    await fields[i].type(values[i]);
  }
  await admin.click(".v-dialog button[type=submit]");
}

step("login");
await login(args.password + "-wrong");
await admin.waitForSelector(".v-dialog .red--text", { visible: true, timeout: 10000 });
out({ admin_refused: await admin.$eval(".v-dialog .red--text", (e) => e.textContent.trim()) });
await shot(admin, "admin-refused");

await login(args.password);
await admin.waitForSelector(".v-dialog--active", { hidden: true, timeout: 10000 }).catch(async (e) => {
  await shot(admin, "admin-login-failed");
  const text = await admin.$eval(".v-dialog", (d) => d.innerText).catch(() => "");
  throw new Error(`the dashboard did not log in: ${text}: ${e}`);
});
await sleep(4500); // two server_stats
await shot(admin, "admin");

/** Goes to a page of the dashboard (its router is in the URL's hash). */
async function route(path) {
  await admin.evaluate((p) => { location.hash = p; }, path);
  await sleep(300);
}

/** Selects the namespace in the page's namespace selector. */
async function selectNamespace(nsp) {
  await admin.waitForSelector(".selector .v-select__slot", { visible: true });
  await admin.click(".selector .v-select__slot");
  await admin.waitForSelector(".menuable__content__active .v-list-item", { visible: true });
  const items = await admin.$$(".menuable__content__active .v-list-item");
  for (const item of items) {
    if ((await item.evaluate((e) => e.textContent.trim())) === nsp) {
      await item.click();
      return;
    }
  }
  throw new Error(`no namespace ${nsp} in the selector`);
}

await route("/sockets/");
await selectNamespace("/chat");
const sockets = await admin
  .waitForFunction(
    (ids) => ids.every((id) => document.body.innerText.includes(id)),
    { timeout: 10000, polling: 100 },
    [aliceId, bobId],
  )
  .then(() => true, () => false);
await shot(admin, "admin-sockets");

await route("/rooms/");
const rooms = await admin
  .waitForFunction(() => /\blobby\b/.test(document.body.innerText), { timeout: 10000, polling: 100 })
  .then(() => true, () => false);
out({ admin: { sockets, rooms } });

// "join" on alice's socket page: the room field, then the join button.
step("join");
admin.setDefaultTimeout(10000);
await route(`/n/${encodeURIComponent("/chat")}/sockets/${aliceId}`);
step("socket page");
await admin.waitForSelector(".select-room input", { visible: true }).catch(async (e) => {
  await shot(admin, "admin-failure");
  throw e;
});
await admin.type(".select-room input", "vip");
step("room typed");
await admin.$eval(".select-room", (e) => e.closest("form").requestSubmit());
await admin.waitForFunction(() => /\bvip\b/.test(document.body.innerText), { timeout: 10000, polling: 100 });
// joins lobby again: the ack lists every room (a DOM click: the tab is in the background,
// where puppeteer's input events wait for a frame that never comes)
await alice.$eval("#join", (b) => b.click());
await waitLog(alice, "rooms: lobby, vip").catch(() => {});
const roomsLine = await alice.$$eval("#log div", (ds) =>
  ds.map((d) => d.textContent).filter((t) => t.startsWith("rooms:")).pop());
out({ join: roomsLine });

// "disconnect" on bob's row of the sockets page.
const reason = bob.evaluate(() => new Promise((resolve) => socket.once("disconnect", resolve)));
await route("/sockets/");
await selectNamespace("/chat");
await admin.waitForFunction((id) => document.body.innerText.includes(id), { timeout: 10000, polling: 100 }, bobId);
const rows = await admin.$$("tbody tr");
for (const row of rows) {
  if ((await row.evaluate((e) => e.textContent)).includes(bobId)) {
    await (await row.$("button")).click();
    break;
  }
}
out({ disconnect: await Promise.race([reason, sleep(10000).then(() => null)]) });

await browser.close();
exit(0);
