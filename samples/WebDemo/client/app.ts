// The WebDemo page: sign in with ASP.NET (a cookie), then PB over a WebSocket with that identity. Rooms are
// Cacheables: the server sends each room's state once and then its changes, which call the observe_ methods below.
import {
  JellyRegistry, LogLevel, PbClient, Referenceable, RemoteCache, RemoteError,
  type IRetryPolicy, type PbValue, type RemoteInterface, type RemoteReference,
} from "@pb-web/client";
// The server's contracts, generated from samples/WebDemo by tools/Pb.TypeScript (the test command checks it is current).
import type { Member, RoomDesk } from "./contracts.js";

interface Message {
  readonly id: number;
  readonly author: string;
  text: string;
  edited: boolean;
}

/** Our copy of a server `Room` (tag "webdemo.Room"); the server's broadcasts call its observe_ methods. */
class RoomCopy extends RemoteCache {
  name = "";
  members: string[] = [];
  messages: Message[] = [];
  counter = 0;
  onchange: (() => void) | undefined;

  override setCopyableState(state: Record<string, PbValue>): void {
    this.name = String(state["name"]);
    this.members = strings(state["members"]);
    this.messages = list(state["messages"]).map(toMessage);
    this.counter = Number(state["counter"]);
  }

  observe_posted(message: PbValue): void {
    this.messages.push(toMessage(message));
    if (this.messages.length > 50) {
      this.messages.shift();
    }
    this.onchange?.();
  }

  observe_edited(id: PbValue, text: PbValue): void {
    const message = this.messages.find((m) => m.id === Number(id));
    if (message !== undefined) {
      message.text = String(text);
      message.edited = true;
    }
    this.onchange?.();
  }

  observe_members(members: PbValue): void {
    this.members = strings(members);
    this.onchange?.();
  }

  observe_counter(value: PbValue): void {
    this.counter = Number(value);
    this.onchange?.();
  }

  /** The whole state again (a room shared through Redis whose state jumped: a late start, a resync). */
  observe_resync(state: PbValue): void {
    if (state !== null && typeof state === "object" && !Array.isArray(state) && !(state instanceof Map)) {
      this.setCopyableState(state as Record<string, PbValue>);
      this.onchange?.();
    }
  }
}

/** What we hand the server at login: it calls remote_poked when someone pokes us. */
class Mind extends Referenceable {
  remote_poked(from: PbValue): void {
    toast(`${String(from)} poked you`);
  }
}

function list(value: PbValue | undefined): PbValue[] {
  return Array.isArray(value) ? value : [];
}

function strings(value: PbValue | undefined): string[] {
  return list(value).map(String);
}

function toMessage(value: PbValue): Message {
  const m = (value ?? {}) as Record<string, PbValue>;
  return { id: Number(m["id"]), author: String(m["author"]), text: String(m["text"]), edited: m["edited"] === true };
}

/** Try at once, after 1 and 2 s, then every 5 s, for five minutes. */
const retryPolicy: IRetryPolicy = {
  nextRetryDelayInMilliseconds: ({ previousRetryCount, elapsedMilliseconds }) =>
    elapsedMilliseconds > 300_000 ? null : ([0, 1_000, 2_000][previousRetryCount] ?? 5_000),
};

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (element === null) {
    throw new Error(`#${id} is missing`);
  }
  return element as T;
};

let client: PbClient | undefined;
let avatar: RemoteInterface<Member> | undefined;
let me = "";
let current: { room: RoomCopy; desk: RemoteInterface<RoomDesk> } | undefined;
let editing: { id: number; draft: string } | undefined;

type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

function setState(state: ConnectionState, detail = ""): void {
  const status = $("status");
  status.dataset["state"] = state;
  const words: Record<ConnectionState, string> = {
    connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…", disconnected: "Disconnected",
  };
  status.textContent = detail === "" ? words[state] : `${words[state]}: ${detail}`;
  document.body.dataset["connection"] = state;
}

function describe(error: unknown): string {
  if (error instanceof RemoteError) {
    return error.message === "" ? error.remoteType : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function showError(message: string): void {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError(): void {
  $("error").hidden = true;
}

function toast(text: string): void {
  const item = document.createElement("li");
  item.textContent = text;
  $("toasts").append(item);
  setTimeout(() => item.remove(), 6_000);
}

/** Runs a user's action: its error is shown, never swallowed. */
async function act(action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
    clearError();
  } catch (e) {
    showError(describe(e));
  }
}

function render(): void {
  const room = current?.room;
  if (room === undefined) {
    return;
  }
  $("room-name").textContent = `#${room.name}`;
  $("counter").textContent = String(room.counter);
  for (const button of document.querySelectorAll<HTMLButtonElement>("#rooms button")) {
    button.setAttribute("aria-pressed", String(button.value === room.name));
  }

  const members = $("members");
  members.replaceChildren(...room.members.map((name) => {
    const item = document.createElement("li");
    item.textContent = name;
    if (name === me) {
      item.append(" (you)");
    } else {
      const poke = document.createElement("button");
      poke.type = "button";
      poke.textContent = "Poke";
      poke.setAttribute("aria-label", `Poke ${name}`);
      poke.addEventListener("click", () => void act(async () => {
        const tabs = await avatar!.poke(name);
        toast(`You poked ${name} (${tabs} ${tabs === 1 ? "tab" : "tabs"})`);
      }));
      item.append(" ", poke);
    }
    return item;
  }));

  const messages = $("messages");
  messages.replaceChildren(...room.messages.map((message) => renderMessage(message)));
  messages.scrollTop = messages.scrollHeight;
}

function renderMessage(message: Message): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset["id"] = String(message.id);
  const author = document.createElement("strong");
  author.textContent = message.author;
  item.append(author, " ");
  if (editing?.id === message.id) {
    const form = document.createElement("form");
    const input = document.createElement("input");
    input.value = editing.draft;
    input.maxLength = 500;
    input.setAttribute("aria-label", "New text");
    input.addEventListener("input", () => {
      if (editing !== undefined) {
        editing.draft = input.value;
      }
    });
    const save = document.createElement("button");
    save.textContent = "Save";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => {
      editing = undefined;
      render();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void act(async () => {
        await current!.desk.edit(message.id, input.value);
        editing = undefined;
        render();
      });
    });
    form.append(input, " ", save, " ", cancel);
    item.append(form);
    queueMicrotask(() => input.focus());
    return item;
  }
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = message.text;
  item.append(text);
  if (message.edited) {
    const mark = document.createElement("em");
    mark.textContent = " (edited)";
    item.append(mark);
  }
  const edit = document.createElement("button");
  edit.type = "button";
  edit.className = "edit";
  edit.textContent = "Edit";
  edit.setAttribute("aria-label", `Edit message ${message.id} by ${message.author}`);
  edit.addEventListener("click", () => {
    editing = { id: message.id, draft: message.text };
    render();
  });
  item.append(" ", edit);
  return item;
}

async function join(name: string): Promise<void> {
  const joined = await avatar!.join(name);
  if (!(joined.room instanceof RoomCopy)) {
    throw new Error("The server sent something other than a room.");
  }
  const previous = current;
  current = { room: joined.room, desk: joined.desk.as<RoomDesk>() };
  current.room.onchange = render;
  editing = undefined;
  if (previous !== undefined && previous.room !== current.room) {
    previous.room.dispose(); // we stop observing it, so we no longer count as present there
  }
  render();
}

async function start(): Promise<void> {
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me").textContent = me;
  setState("connecting");
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/pb`;
  try {
    client = await PbClient.connect(url, {
      reconnect: retryPolicy,
      logger: LogLevel.Warning,
      registry: new JellyRegistry().add("webdemo.Room", RoomCopy),
    });
  } catch (e) {
    setState("disconnected");
    showError(`Could not connect: ${describe(e)}`);
    return;
  }
  client.onreconnecting((error) => setState("reconnecting", error.message));
  client.onreconnected((newAvatar: RemoteReference) => {
    avatar = newAvatar.as<Member>();
    const room = current?.room.name;
    current = undefined;
    void act(async () => {
      if (room !== undefined) {
        await join(room); // the old copy died with the old connection: fetch the state again
      }
      setState("connected");
      toast("Reconnected: the room was fetched again");
    });
  });
  client.onclose((error) => {
    setState("disconnected");
    if (error !== undefined) {
      showError(`The connection is gone (${error.message}). Reload the page to try again.`);
    }
  });
  await act(async () => {
    avatar = (await client!.loginAuthenticated(new Mind())).as<Member>();
    const rooms = await avatar.rooms();
    $("rooms").replaceChildren(...rooms.map((name) => {
      const button = document.createElement("button");
      button.type = "button";
      button.value = name;
      button.textContent = `#${name}`;
      button.addEventListener("click", () => void act(() => join(name)));
      return button;
    }));
    await join(String(rooms[0]));
    setState("connected");
  });
}

function showSignIn(): void {
  $("app").hidden = true;
  $("signin").hidden = false;
  $<HTMLInputElement>("username").focus();
}

async function signIn(username: string, password: string): Promise<void> {
  const response = await fetch("/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (response.status === 401) {
    throw new Error("Wrong username or password.");
  }
  if (!response.ok) {
    throw new Error(`Sign-in failed (HTTP ${response.status}).`);
  }
  me = username;
}

function wire(): void {
  $<HTMLFormElement>("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const error = $("signin-error");
    error.hidden = true;
    void signIn($<HTMLInputElement>("username").value.trim(), $<HTMLInputElement>("password").value)
      .then(start, (e: unknown) => {
        error.textContent = describe(e);
        error.hidden = false;
      });
  });
  $<HTMLFormElement>("post").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>("text");
    void act(async () => {
      if (current === undefined) {
        throw new Error("Not in a room yet.");
      }
      await current.desk.post(input.value);
      input.value = "";
    });
  });
  $("bump").addEventListener("click", () => void act(() => current!.desk.bump()));
  $("signout").addEventListener("click", () => void act(async () => {
    client?.close();
    client = undefined;
    current = undefined;
    await fetch("/logout", { method: "POST" });
    showSignIn();
  }));
  $("error-close").addEventListener("click", clearError);
}

async function main(): Promise<void> {
  wire();
  const response = await fetch("/me");
  if (response.ok) {
    me = String(((await response.json()) as { name?: unknown }).name ?? "");
    await start();
  } else {
    showSignIn();
  }
}

void main();
