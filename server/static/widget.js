/*! Quarry website widget. Embed with:
 * <script src="https://QUARRY/widget.js" data-kb="KB" data-key="KEY" async></script>
 * Optional: data-title, data-color, data-position="left|right", data-lang="en|zh",
 * data-docs (base URL that citation paths are resolved against).
 * Defines one global, window.Quarry (open, close, version). */
(function () {
  "use strict";
  if (window.Quarry) return;
  var script = document.currentScript;
  if (!script) return;
  var d = script.dataset;
  var src = script.src;
  var base = src.replace(/\/widget(\/[^/]+)?\/widget\.js([?#].*)?$/, "").replace(/\/widget\.js([?#].*)?$/, "");
  var kb = d.kb || "default";
  var key = d.key || "";
  var lang = (d.lang || document.documentElement.lang || navigator.language || "en").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  var T = {
    en: {
      title: "Help", open: "Ask a question", close: "Close", placeholder: "Type your question…", send: "Send",
      hello: "Hi! Ask me anything about our products and policies.", sources: "Sources", page: "p.",
      helpful: "Helpful", unhelpful: "Not helpful", comment: "What was wrong? (optional)", sendComment: "Send feedback",
      thanks: "Thanks for your feedback!", handoff: "Need a person?", email: "E-mail us", contact: "Contact us",
      error: "Sorry, something went wrong. Please try again.", refused: "The assistant is not available on this site.",
      busy: "Too many questions right now. Please wait a moment.", thinking: "Thinking…"
    },
    zh: {
      title: "帮助", open: "提问", close: "关闭", placeholder: "请输入您的问题…", send: "发送",
      hello: "您好！有关产品和政策的问题都可以问我。", sources: "来源", page: "第", pageEnd: "页",
      helpful: "有帮助", unhelpful: "没有帮助", comment: "哪里不对？（可选）", sendComment: "提交反馈",
      thanks: "感谢您的反馈！", handoff: "需要人工服务？", email: "发送邮件", contact: "联系我们",
      error: "抱歉，出了点问题，请重试。", refused: "此网站无法使用该助手。",
      busy: "提问太频繁，请稍候再试。", thinking: "正在思考…"
    }
  }[lang];
  var color = /^#[0-9a-f]{3,8}$|^[a-z]+$|^rgb/i.test(d.color || "") ? d.color : "#2563eb";
  var left = d.position === "left";

  var host = document.createElement("div");
  host.setAttribute("data-quarry-widget", "");
  var root = host.attachShadow({ mode: "open" });
  var side = left ? "left" : "right";
  var css =
    ":host{all:initial!important;display:block!important;position:static!important}" +
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','PingFang SC','Microsoft YaHei',sans-serif;font-size:14px;line-height:1.45;letter-spacing:normal;text-transform:none}" +
    ".l{position:fixed;bottom:16px;" + side + ":16px;width:56px;height:56px;border-radius:28px;border:0;background:" + color + ";color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000;display:flex;align-items:center;justify-content:center;padding:0;margin:0}" +
    ".l svg{width:26px;height:26px;fill:#fff}" +
    ".p{position:fixed;bottom:84px;" + side + ":16px;width:380px;max-width:calc(100vw - 16px);height:560px;max-height:calc(100vh - 100px);background:#fff;color:#1f2937;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.25);z-index:2147483001;display:flex;flex-direction:column;overflow:hidden;margin:0;padding:0;border:0}" +
    "@media (max-width:420px){.p{" + side + ":8px;bottom:80px}}" +
    ".p[hidden]{display:none}" +
    ".h{background:" + color + ";color:#fff;padding:12px 14px;display:flex;align-items:center;justify-content:space-between}" +
    ".h h2{margin:0;font-size:16px;font-weight:600;color:#fff}" +
    ".x{background:transparent;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:2px 6px;border-radius:6px}" +
    ".m{flex:1;overflow-y:auto;padding:12px;background:#f8fafc;display:flex;flex-direction:column;gap:10px}" +
    ".b{max-width:88%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere;margin:0}" +
    ".u{align-self:flex-end;background:" + color + ";color:#fff;border-bottom-right-radius:4px}" +
    ".a{align-self:flex-start;background:#fff;border:1px solid #e5e7eb;border-bottom-left-radius:4px}" +
    ".c{margin:8px 0 0;padding:0;list-style:none;font-size:12.5px;white-space:normal}" +
    ".c li{margin:3px 0;font-size:12.5px}.c a{color:" + color + ";text-decoration:underline;font-size:12.5px}" +
    ".s{font-size:12px;color:#6b7280;margin-top:6px;display:block}" +
    ".f{display:flex;gap:6px;margin-top:6px;align-items:center;flex-wrap:wrap;white-space:normal}" +
    ".f button,.k{background:#fff;border:1px solid #d1d5db;border-radius:8px;padding:4px 8px;cursor:pointer;color:#4b5563;display:inline-flex;align-items:center}" +
    ".f .dn svg{transform:rotate(180deg)}" +
    ".f button[aria-pressed=true]{background:#eef2ff;border-color:" + color + "}" +
    ".f textarea{width:100%;min-height:52px;border:1px solid #d1d5db;border-radius:8px;padding:6px;resize:vertical;color:#111827;background:#fff}" +
    ".o{margin-top:8px;padding:8px;border-radius:8px;background:#fff7ed;border:1px solid #fed7aa;white-space:normal}" +
    ".o a{color:" + color + ";margin-right:10px}" +
    ".e{color:#b91c1c}" +
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e5e7eb;background:#fff;margin:0}" +
    "input{flex:1;min-width:0;border:1px solid #d1d5db;border-radius:10px;padding:9px 11px;color:#111827;background:#fff;outline-color:" + color + "}" +
    ".g{background:" + color + ";color:#fff;border:0;border-radius:10px;padding:0 14px;cursor:pointer}" +
    "button:focus-visible,a:focus-visible,input:focus-visible,textarea:focus-visible{outline:2px solid " + color + ";outline-offset:2px}" +
    ".v{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // A constructed style sheet, which a host page's Content-Security-Policy
  // does not block as it blocks inline styles; a <style> element where
  // there are none.
  var style = null;
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    style = el("style");
    style.textContent = css;
  }
  var launcher = el("button", "l");
  launcher.type = "button";
  launcher.setAttribute("aria-label", T.open);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "quarry-panel");
  launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
  var panel = el("div", "p");
  panel.id = "quarry-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "true");
  panel.setAttribute("aria-labelledby", "quarry-title");
  var head = el("div", "h");
  var title = el("h2", null, d.title || T.title);
  title.id = "quarry-title";
  var closeBtn = el("button", "x", "×");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", T.close);
  head.append(title, closeBtn);
  var log = el("div", "m");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.append(el("p", "b a", T.hello));
  var form = el("form");
  var input = el("input");
  input.type = "text";
  input.placeholder = T.placeholder;
  input.setAttribute("aria-label", T.placeholder);
  input.maxLength = 2000;
  var send = el("button", "g", T.send);
  send.type = "submit";
  form.append(input, send);
  panel.append(head, log, form);
  if (style) root.append(style);
  root.append(panel, launcher);

  var history = [];
  var conversation = "";
  var busy = false;

  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    input.focus();
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
  launcher.addEventListener("click", function () { panel.hidden ? open() : close(); });
  closeBtn.addEventListener("click", close);
  // Escape closes; Tab stays inside the open panel (focus trap).
  panel.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { ev.preventDefault(); close(); return; }
    if (ev.key !== "Tab") return;
    var f = [].filter.call(panel.querySelectorAll("button,a[href],input,textarea"), function (x) { return !x.disabled && x.offsetParent !== null; });
    if (!f.length) return;
    var first = f[0], last = f[f.length - 1], active = root.activeElement;
    if (ev.shiftKey && (active === first || !panel.contains(active))) { ev.preventDefault(); last.focus(); }
    else if (!ev.shiftKey && (active === last || !panel.contains(active))) { ev.preventDefault(); first.focus(); }
  });

  function api(path, body, accept) {
    var h = { "Content-Type": "application/json", Accept: accept || "application/json" };
    if (key) h.Authorization = "Bearer " + key;
    return fetch(base + "/v1/kb/" + encodeURIComponent(kb) + path, { method: "POST", headers: h, body: JSON.stringify(body), mode: "cors", credentials: "omit" });
  }

  function docURL(c) {
    var u;
    try { u = new URL(c.path, d.docs || location.origin + "/"); } catch (e) { return null; }
    if (c.page) u.hash = "page=" + c.page;
    return u.href;
  }

  function citations(box, cs) {
    var old = box.querySelector(".c");
    if (old) old.remove();
    if (!cs || !cs.length) return;
    var ul = el("ul", "c");
    ul.setAttribute("aria-label", T.sources);
    cs.forEach(function (c) {
      var li = el("li");
      var label = "[" + c.n + "] " + (c.title || c.path) + (c.heading ? " › " + c.heading : "") +
        (c.page ? " · " + T.page + c.page + (T.pageEnd || "") : "");
      var href = docURL(c);
      var a = el(href ? "a" : "span", null, label);
      if (href) { a.href = href; a.target = "_blank"; a.rel = "noopener"; a.setAttribute("data-path", c.path); }
      li.append(a);
      ul.append(li);
    });
    box.append(ul);
  }

  function handoff(box, h) {
    if (!h || !(h.message || h.url || h.email)) return;
    var o = el("div", "o");
    o.setAttribute("data-handoff", "");
    o.append(el("strong", null, T.handoff + " "));
    if (h.message) o.append(el("span", null, h.message + " "));
    if (h.url) { var a = el("a", null, T.contact); a.href = h.url; a.target = "_blank"; a.rel = "noopener"; o.append(a); }
    if (h.email) { var m = el("a", null, T.email + " (" + h.email + ")"); m.href = "mailto:" + h.email; o.append(m); }
    box.append(o);
  }

  var THUMB = '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" fill="currentColor"><path d="M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.5-1.1L14.2 1 7.6 7.6C7.2 8 7 8.5 7 9v10c0 1.1.9 2 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7c.1-.3.2-.5.2-.8v-2z"/></svg>';
  function feedback(box, id) {
    var f = el("div", "f");
    var up = el("button"), down = el("button");
    up.innerHTML = THUMB;
    down.innerHTML = THUMB;
    down.className = "dn";
    up.type = down.type = "button";
    up.setAttribute("aria-label", T.helpful);
    down.setAttribute("aria-label", T.unhelpful);
    up.setAttribute("aria-pressed", "false");
    down.setAttribute("aria-pressed", "false");
    f.append(up, down);
    function rate(rating, comment) {
      up.disabled = down.disabled = true;
      return api("/feedback", { answer_id: id, rating: rating, comment: comment || "" }).then(function (r) {
        f.replaceChildren(el("span", r.ok ? "s" : "s e", r.ok ? T.thanks : T.error));
      }, function () { f.replaceChildren(el("span", "s e", T.error)); });
    }
    up.addEventListener("click", function () { up.setAttribute("aria-pressed", "true"); rate("up"); });
    down.addEventListener("click", function () {
      down.setAttribute("aria-pressed", "true");
      if (f.querySelector("textarea")) return;
      var t = el("textarea");
      t.placeholder = T.comment;
      t.setAttribute("aria-label", T.comment);
      t.maxLength = 2000;
      var s = el("button", "k", T.sendComment);
      s.type = "button";
      s.addEventListener("click", function () { rate("down", t.value); });
      f.append(t, s);
      t.focus();
    });
    box.append(f);
  }

  // readSSE calls on(event, data) for each server-sent event of the
  // response body.
  function readSSE(res, on) {
    var reader = res.body.getReader(), dec = new TextDecoder(), buf = "";
    function pump() {
      return reader.read().then(function (r) {
        if (r.done) return;
        buf += dec.decode(r.value, { stream: true });
        var i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          var chunk = buf.slice(0, i), name = "message", data = "";
          buf = buf.slice(i + 2);
          chunk.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) name = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
          });
          if (data) on(name, JSON.parse(data));
        }
        return pump();
      });
    }
    return pump();
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = input.value.trim();
    if (!q || busy) return;
    busy = true;
    send.disabled = true;
    input.value = "";
    log.append(el("p", "b u", q));
    var box = el("div", "b a");
    box.setAttribute("aria-busy", "true");
    var text = el("span", null, T.thinking);
    box.append(text);
    log.append(box);
    log.scrollTop = log.scrollHeight;
    var t0 = performance.now(), got = false, final = null;
    api("/ask", { question: q, history: history.slice(-8), conversation_id: conversation, channel: "widget" }, "text/event-stream")
      .then(function (res) {
        if (!res.ok) {
          var e = new Error(String(res.status));
          e.status = res.status;
          throw e;
        }
        return readSSE(res, function (name, data) {
          if (name === "delta") {
            if (!got) { got = true; text.textContent = ""; box.setAttribute("data-first-token-ms", String(Math.round(performance.now() - t0))); }
            text.textContent += data.delta;
            box.setAttribute("data-deltas", String(+(box.getAttribute("data-deltas") || 0) + 1));
          } else if (name === "citations") {
            citations(box, data.citations);
          } else if (name === "done") {
            final = data.answer;
          } else if (name === "error") {
            throw new Error(data.error && data.error.message);
          }
          log.scrollTop = log.scrollHeight;
        });
      })
      .then(function () {
        if (!final) throw new Error("incomplete");
        text.textContent = final.answer;
        citations(box, final.citations);
        conversation = final.conversation_id || conversation;
        history.push({ role: "user", content: q }, { role: "assistant", content: final.answer });
        box.setAttribute("data-answer-id", final.answer_id || "");
        box.setAttribute("data-answered", String(!!final.answered));
        if (!final.answered) handoff(box, final.handoff);
        if (final.answer_id) feedback(box, final.answer_id);
      })
      .catch(function (e) {
        text.textContent = e.status === 401 || e.status === 403 || e instanceof TypeError ? T.refused : e.status === 429 ? T.busy : T.error;
        box.classList.add("e");
        box.setAttribute("data-error", "");
      })
      .then(function () {
        box.removeAttribute("aria-busy");
        busy = false;
        send.disabled = false;
        log.scrollTop = log.scrollHeight;
      });
  });

  function mount() { document.body.appendChild(host); }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
  window.Quarry = Object.freeze({ open: open, close: close, version: "1" });
})();
