// A request's files, for the portal and the console alike: the list with downloads, and attaching a
// file when the caller may write on the request (the API decides; the page only hides the form).
import { download, get, post } from "./api.js";
import { bytes, empty, failure, h, mount, time, toast } from "./dom.js";
import { field, formAlert, onSubmit } from "./forms.js";

// A JSON upload carries the file as base64 inside the API's 10 MiB body limit.
export const MAX_BYTES = Math.floor(7.5 * 1024 * 1024);
export const ACCEPT = ".pdf,.png,.jpg,.jpeg,.gif,.webp,.txt,.csv,.docx,.xlsx,.pptx,.odt,.ods";
// Browsers leave `type` empty for some files; the API names the allowed types when one is wrong.
export const BY_EXTENSION = { csv: "text/csv", txt: "text/plain", odt: "application/vnd.oasis.opendocument.text", ods: "application/vnd.oasis.opendocument.spreadsheet" };

/** A file's bytes as base64, for the API's JSON uploads. */
export function base64(buffer) {
  const view = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < view.length; i += 0x8000) binary += String.fromCharCode(...view.subarray(i, i + 0x8000));
  return btoa(binary);
}

/**
 * The Files card of a request. `canUpload`: the caller may write on it. `base`: the attachments
 * path (the client's by default; the console passes the team's). `own`: how the caller's own
 * uploads are named ("You" for a client).
 */
export function attachmentsSection(request, canUpload, { base = `/api/requests/${encodeURIComponent(request.id)}/attachments`, uploaderName = (a) => a.uploaded_by_name || (a.uploaded_by_kind === "employee" ? "The team" : "You") } = {}) {
  const list = h("div", { role: "status" }, "Loading files…");

  async function refresh() {
    try {
      const res = await get(base, { limit: 200 });
      if (!res.items.length) return mount(list, empty("No files yet."));
      mount(list, h("ul", { class: "list", "aria-label": `Files of ${request.title}` }, res.items.map((a) =>
        h("li", {},
          h("div", { class: "item-head" },
            h("span", { class: "title" }, a.file_name),
            h("span", { class: "small muted" }, `${a.content_type} · ${bytes(a.size)}`)),
          h("div", { class: "small muted" }, `${uploaderName(a)} · `, time(a.created_at)),
          h("button", {
            type: "button",
            onclick: async (ev) => {
              const button = ev.currentTarget;
              button.disabled = true;
              try {
                await download(`${base}/${encodeURIComponent(a.id)}`, a.file_name);
              } catch (err) {
                if (err.status !== 401) toast(err.message);
              } finally {
                button.disabled = false;
              }
            },
          }, "Download", h("span", { class: "visually-hidden" }, ` ${a.file_name}`)),
        ))));
    } catch (err) {
      if (err.status !== 401) mount(list, failure(err, refresh));
    }
  }

  let form = null;
  if (canUpload) {
    const file = field({ label: "Attach a file", name: "file", kind: "file", required: true, hint: "PDF, images, text, CSV or office documents, up to 7.5 MB." });
    file.control.setAttribute("accept", ACCEPT);
    form = h("form", {}, formAlert(), file, h("button", { type: "submit" }, "Upload"));
    onSubmit(form, async () => {
      const chosen = file.control.files && file.control.files[0];
      if (!chosen) throw { field: "file", message: "Choose a file to attach." };
      if (chosen.size > MAX_BYTES) throw { field: "file", message: `The file is ${bytes(chosen.size)}; the limit is 7.5 MB.` };
      const ext = chosen.name.split(".").pop().toLowerCase();
      try {
        await post(base, { file_name: chosen.name, content_type: chosen.type || BY_EXTENSION[ext] || "application/octet-stream", content_base64: base64(await chosen.arrayBuffer()) });
      } catch (err) {
        // The API names file_name, content_type or content_base64: all of them are this one input.
        if (err.field) err.field = "file";
        throw err;
      }
      toast(`“${chosen.name}” attached.`);
      form.reset();
      await refresh();
    });
  }

  refresh();
  return h("section", { class: "card", "aria-labelledby": "rq-files-title" }, h("h2", { id: "rq-files-title" }, "Files"), list, form);
}
