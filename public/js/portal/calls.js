// Calls: the calls of the visible threads at the chosen company, and starting one (in general or on
// a request). A call opens in the calls service's own page, in a new tab.
import { get, post } from "../lib/api.js";
import { badge, empty, h, load, mount, time, toast } from "../lib/dom.js";

function joinLink(call) {
  return h("a", { href: call.join_url, target: "_blank", rel: "noopener noreferrer" }, "Join the call", h("span", { class: "visually-hidden" }, " (opens in a new tab)"));
}

/** A "Start a call" button that shows the join link once the call exists. */
export function callButton(ctx, companyId, requestId) {
  const out = h("span", { role: "status" });
  const button = h("button", { type: "button" }, requestId ? "Start a call on this request" : "Start a call");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const call = await post("/api/calls", { company_id: companyId, ...(requestId ? { request_id: requestId } : {}) });
      mount(out, "Call started: ", joinLink(call));
      toast("Call started.");
    } catch (err) {
      if (err.status !== 401) mount(out, h("span", { class: "no" }, err.message));
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "row" }, button, out);
}

export async function renderCalls(ctx, el) {
  const list = h("div");
  mount(
    el,
    h("div", { class: "section-head" }, h("h1", {}, `Calls · ${ctx.company.name}`)),
    h("div", { class: "card" }, h("p", {}, "Start a call with the team. The call opens in a new tab; share nothing there you would not share on the phone."), callButton(ctx, ctx.company.id, null)),
    h("h2", {}, "Recent calls"),
    list,
  );
  await load(list, async () => {
    const res = await get("/api/calls", { company: ctx.company.id, limit: 50 });
    if (!res.items.length) return empty("No calls yet.");
    return h(
      "ul",
      { class: "list", "aria-label": "Calls" },
      res.items.map((c) =>
        h(
          "li",
          {},
          h(
            "div",
            { class: "item-head" },
            h("span", { class: "title" }, c.request_title ? `On “${c.request_title}”` : "General call"),
            badge(c.status, c.status === "ended" ? "" : "info"),
          ),
          h("div", { class: "small muted" }, "Started ", time(c.created_at), c.created_by_name ? ` by ${c.created_by_name}` : "", c.ended_at ? [" · ended ", time(c.ended_at)] : ""),
          c.status !== "ended" ? h("div", {}, joinLink(c)) : null,
        ),
      ),
    );
  });
}
