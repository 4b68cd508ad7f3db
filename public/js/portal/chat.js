// The company's general chat (needs general_chat).
import { get, post } from "../lib/api.js";
import { h, mount } from "../lib/dom.js";
import { chatThread } from "../lib/thread.js";

export async function renderChat(ctx, el) {
  const company = ctx.company;
  mount(
    el,
    h("div", { class: "section-head" }, h("h1", {}, `Chat · ${company.name}`)),
    h("p", { class: "muted" }, "A standing conversation with the team, for questions outside a request. About a request? Write in the request's own conversation."),
    h(
      "section",
      { class: "card", "aria-label": "General chat" },
      chatThread({
        me: ctx.me,
        label: `General chat with ${company.name}'s team`,
        load: (cursor) => get("/api/chat/messages", { company: company.id, order: "newest", limit: 50, cursor }),
        newestFirst: true,
        send: (body) => post("/api/chat/messages", { body }, { company: company.id }),
      }),
    ),
  );
}
