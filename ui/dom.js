// DOM helpers shared by every page: build elements with textContent only (nothing
// from the server is parsed as HTML) and show a notice in the page's #notice.
'use strict';

window.dom = {
  el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  },
  /** Show `text` as a notice of `kind` (info, waiting, error); null hides it. */
  showNotice(kind, text) {
    const notice = document.getElementById('notice');
    notice.hidden = text === null;
    notice.className = `notice notice-${kind}`;
    notice.textContent = text ?? '';
  },
};
