/* Photo anonymizer page: open a photo, mark what to hide, preview and download the clean copy.
 *
 * A video opens on its poster frame (from /v1/detect): marks drawn on it hide their area in every frame, or
 * between two times; cleaning runs as a job (POST /v1/jobs) whose progress arrives as Server-Sent Events, can
 * be cancelled, and whose result plays in the page and downloads under a neutral name.
 *
 * Everything the user marks is kept in upright image pixels (the coordinates /v1/detect returns and
 * /v1/clean expects); the display is only a scaled view of them. The photo stays in memory: nothing is
 * written to localStorage, sessionStorage, IndexedDB or cookies, and the original's file name is never sent.
 */
(() => {
  'use strict';

  const $ = (selector) => document.querySelector(selector);
  const ui = {
    file: $('#file'), open: $('#open'), close: $('#close'),
    tools: $('#tools'), toolHint: $('#tool-hint'), size: $('#size'), sizeOut: $('#size-out'),
    undo: $('#undo'), redo: $('#redo'),
    faceList: $('#face-list'), facesEmpty: $('#faces-empty'), facesCount: $('#faces-count'),
    methods: $('#methods'), strength: $('#strength'), strengthOut: $('#strength-out'),
    strengthField: $('#strength-field'), fill: $('#fill'), fillField: $('#fill-field'),
    faceShape: $('#face-shape'), background: $('#background'), format: $('#format'),
    download: $('#download'), downloadHint: $('#download-hint'),
    status: $('#status'), error: $('#error'),
    dropzone: $('#dropzone'), dropOverlay: $('#drop-overlay'),
    stage: $('#stage'), photo: $('#photo'), paint: $('#paint'), faceLayer: $('#face-layer'),
    draft: $('#draft'), cursor: $('#cursor'),
    resultFrame: $('#result-frame'), result: $('#result'), resultPlaceholder: $('#result-placeholder'),
    resultSummary: $('#result-summary'), openHint: $('#open-hint'),
    metaBefore: $('#meta-before'), metaAfter: $('#meta-after'),
    openVideo: $('#open-video'), videoFile: $('#video-file'), videoCard: $('#video-card'),
    videoFacts: $('#video-facts'), wholeClip: $('#whole-clip'), spanFields: $('#span-fields'),
    spanFrom: $('#span-from'), spanTo: $('#span-to'), spanFromOut: $('#span-from-out'),
    spanToOut: $('#span-to-out'), spanHint: $('#span-hint'), startJob: $('#start-job'), job: $('#job'),
    jobProgress: $('#job-progress'), jobText: $('#job-text'), cancelJob: $('#cancel-job'),
    audio: $('#audio'), audioField: $('#audio-field'), formatField: $('#format-field'),
    resultVideo: $('#result-video'), editorKind: $('#editor-kind'), spanBlock: $('#span-block'),
  };

  const DEBOUNCE_MS = 350;
  const MAX_PAINT_SIDE = 2048;        // the on-screen brush layer never needs more pixels than this
  const MIN_BOX_PX = 6;               // a dragged face box smaller than this (image pixels) is a click
  const MAX_RETRIES = 40;             // 503 (busy or model loading) is retried this many times
  // From GET /v1/formats (the library's registry): name -> {label, mime, suffixes, kind, writable}.
  const formats = {};
  const STRUCTURE = 'image structure';
  const TOOL_HINTS = {
    faces: 'Click a box to switch it off if it is not a face. Drag on the photo to add a face that was missed.',
    brush: 'Paint over anything that could identify someone: tattoos, marks, names, a view from a window.',
    eraser: 'Drag over brush strokes to take part of them back. Faces are switched in the list.',
  };
  const PAINT_COLOUR = '#ff2d7a';

  /* ------------------------------------------------------------------ state */

  const state = {
    session: 0,          // bumps for each photo opened: late answers about an older photo are dropped
    photo: null,         // the original, as the user picked it (a Blob in memory)
    width: 0, height: 0, // upright size
    detected: [],        // faces found: [{id, box:{x,y,w,h}, score}]
    ops: [],             // edits, in order: paint, erase, toggle, add (undo pops, redo pushes back)
    undone: [],
    version: 0,          // bumps whenever something the clean copy depends on changes
    tool: 'faces',
    cleaning: false,
    timer: 0,
    result: null,        // {key, url, ext, clean (the clean copy's own report, from /v1/clean report=true)}
    previewUrl: '',
    paintScale: 1,
    kind: 'photo',       // or 'video': the file opened is a video, shown by its poster frame
    video: null,         // a video's facts from /v1/detect: {duration, frame_rate, frames, poster_time, audio}
    job: null,           // the video job running: {id, urls, key, events (its EventSource)}
  };
  const key = () => `${state.session}:${state.version}`;

  /* ------------------------------------------------------------------ helpers */

  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
  const round1 = (v) => Math.round(v * 10) / 10;
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

  function node(tag, props = {}, children = []) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === 'class') element.className = value;
      else if (name === 'text') element.textContent = value;
      else if (name.startsWith('data-') || name.startsWith('aria-')) element.setAttribute(name, value);
      else element[name] = value;
    }
    element.append(...children);
    return element;
  }

  function setStatus(text) { ui.status.textContent = text; }

  function showError(text) {
    ui.error.textContent = text;
    ui.error.hidden = !text;
  }

  class ApiError extends Error {}

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (_) { /* not JSON: fall through to the status */ }
    return `the service answered ${response.status}`;
  }

  /** POST a form to the service; 503 (busy, or the face model still loading) is retried. */
  async function post(path, form) {
    for (let attempt = 0; ; attempt += 1) {
      const response = await fetch(path, {
        method: 'POST', body: form, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
      });
      if (response.status === 503 && attempt < MAX_RETRIES) {
        setStatus('The service is busy or still loading its face model; trying again…');
        const wait = Number(response.headers.get('Retry-After')) || 1;
        await sleep(Math.min(wait, 2) * 1000);
        continue;
      }
      if (!response.ok) throw new ApiError(await errorMessage(response));
      return response;
    }
  }

  /** A form with the photo under a neutral name: the original's file name never leaves the page. */
  function photoForm(blob, part = 'photo') {
    const form = new FormData();
    form.append(part, blob, part);
    return form;
  }

  /* ------------------------------------------------------------------ edits */

  function faces() {
    const list = state.detected.map((face, i) => ({ ...face, label: `Face ${i + 1}`, added: false, on: true }));
    const byId = new Map(list.map((face) => [face.id, face]));
    let added = 0;
    state.ops.forEach((op, i) => {
      if (op.type === 'add') {
        added += 1;
        const face = {
          id: `a${i}`, box: op.box, span: op.span || null, score: null, label: `Added box ${added}`, added: true, on: true,
        };
        list.push(face);
        byId.set(face.id, face);
      } else if (op.type === 'toggle' && byId.has(op.id)) {
        byId.get(op.id).on = !byId.get(op.id).on;
      }
    });
    return list;
  }

  const strokes = () => state.ops.filter((op) => op.type === 'paint' || op.type === 'erase');

  function edit(op) {
    if (state.kind === 'video' && op.type !== 'toggle') op.span = currentSpan();
    state.ops.push(op);
    state.undone = [];
    changed();
  }

  function undo() {
    if (!state.ops.length) return;
    state.undone.push(state.ops.pop());
    changed();
  }

  function redo() {
    if (!state.undone.length) return;
    state.ops.push(state.undone.pop());
    changed();
  }

  function changed() {
    renderFaces();
    redrawPaint();
    ui.undo.disabled = !state.ops.length;
    ui.redo.disabled = !state.undone.length;
    optionsChanged();
  }

  function optionsChanged() {
    if (!state.photo) return;
    state.version += 1;
    updateDownload();
    if (state.kind === 'video') updateJob();   // a video is cleaned when the user asks: it takes a while
    else scheduleClean(DEBOUNCE_MS);
  }

  /* ------------------------------------------------------------------ faces: boxes and list */

  function percentBox(element, box) {
    element.style.left = `${(100 * box.x) / state.width}%`;
    element.style.top = `${(100 * box.y) / state.height}%`;
    element.style.width = `${(100 * box.w) / state.width}%`;
    element.style.height = `${(100 * box.h) / state.height}%`;
  }

  function renderFaces() {
    const list = state.photo ? faces() : [];
    ui.faceLayer.replaceChildren(...list.map((face) => {
      const button = node('button', {
        type: 'button',
        class: `face-box${face.on ? '' : ' off'}${face.added ? ' added' : ''}${face.box.y < 0.08 * state.height ? ' tag-inside' : ''}`,
        tabIndex: -1, 'aria-hidden': 'true', 'data-id': face.id,
        'data-box': [face.box.x, face.box.y, face.box.w, face.box.h].join(','),
        title: `${face.label}: ${face.on ? 'will be hidden (click if it is not a face)' : 'left as it is'}`,
      }, [node('span', { class: 'face-tag', text: face.on ? face.label : `${face.label} · kept` })]);
      percentBox(button, face.box);
      return button;
    }));
    ui.faceList.replaceChildren(...list.map((face) => {
      const id = `face-${face.id}`;
      const fixed = state.kind === 'video' && !face.added;   // tracked in every frame: not switchable here
      const input = node('input', { type: 'checkbox', id, checked: face.on, 'data-id': face.id, disabled: fixed });
      const detail = (face.added ? 'added by you' : `${Math.round(face.score * 100)}% sure`) + spanText(face.span);
      const label = node('label', { htmlFor: id }, [
        node('span', { class: 'face-name', text: `Hide ${face.label.toLowerCase()}` }),
        node('span', { class: 'muted', text: ` · ${detail}` }),
      ]);
      return node('li', { class: face.on ? '' : 'off' }, [input, label]);
    }));
    const on = list.filter((face) => face.on).length;
    ui.facesCount.textContent = state.photo ? `${on} of ${list.length} hidden` : '';
    ui.facesEmpty.hidden = list.length > 0;
    ui.facesEmpty.textContent = state.photo
      ? 'No face found. If there is one, choose Faces and drag a box around it.'
      : 'Open a photo to find its faces.';
    if (state.kind === 'video' && list.length) {
      ui.facesEmpty.hidden = false;
      ui.facesEmpty.textContent = 'Faces in this frame. When the video is cleaned, faces are found and followed in ' +
        'every frame; drag a box to hide a place they may be missed.';
    }
  }

  function toggleFace(id) {
    if (state.kind === 'video' && !id.startsWith('a')) return;   // detected faces of a video are tracked
    const focused = document.activeElement && document.activeElement.dataset.id === id;
    edit({ type: 'toggle', id });
    const again = ui.faceList.querySelector(`input[data-id="${id}"]`);
    if (again && focused) again.focus();   // the list is redrawn: keep keyboard users where they were
  }

  /* ------------------------------------------------------------------ brush layer */

  function sizePaintLayer() {
    state.paintScale = Math.min(1, MAX_PAINT_SIDE / Math.max(state.width, state.height));
    ui.paint.width = Math.max(1, Math.round(state.width * state.paintScale));
    ui.paint.height = Math.max(1, Math.round(state.height * state.paintScale));
  }

  /** Draw one stroke on the screen: painting in PAINT_COLOUR, erasing cuts out (destination-out). */
  function drawStroke(ctx, op) {
    const erasing = op.type === 'erase';
    const radius = Math.max(0.5, op.radius);
    ctx.save();
    ctx.globalCompositeOperation = erasing ? 'destination-out' : 'source-over';
    ctx.strokeStyle = ctx.fillStyle = PAINT_COLOUR;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.lineWidth = radius * 2;
    const [first, ...rest] = op.points;
    ctx.beginPath();
    if (!rest.length) {
      ctx.arc(first[0], first[1], radius, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.moveTo(first[0], first[1]);
      for (const [x, y] of rest) ctx.lineTo(x, y);
      ctx.stroke();
    }
    ctx.restore();
  }

  function paintContext() {
    const ctx = ui.paint.getContext('2d');
    ctx.setTransform(state.paintScale, 0, 0, state.paintScale, 0, 0);
    return ctx;
  }

  function redrawPaint() {
    const ctx = paintContext();
    ctx.clearRect(0, 0, state.width, state.height);
    for (const op of strokes()) drawStroke(ctx, op);
  }

  /** The marks in the regions format: strokes in order, eraser strokes with "erase": true (the library draws
   * them, taking back what earlier strokes covered; it never uncovers a face). Leading erasers take nothing. */
  function regionsJson() {
    const marks = strokes();
    const first = marks.findIndex((op) => op.type === 'paint');
    const regions = {};
    if (first >= 0) {
      regions.strokes = marks.slice(first).map(({ type, points, radius, span }) =>
        ({ points, radius, ...(type === 'erase' ? { erase: true } : {}), ...spanFields(span) }));
    }
    if (state.kind === 'video') {   // boxes added on a video's frame are areas to hide (faces are tracked)
      const boxes = faces().filter((face) => face.added && face.on)
        .map(({ box, span }) => ({ x: round1(box.x), y: round1(box.y), w: round1(box.w), h: round1(box.h),
          ...spanFields(span) }));
      if (boxes.length) regions.boxes = boxes;
    }
    return Object.keys(regions).length ? JSON.stringify(regions) : null;
  }

  /* ------------------------------------------------------------------ video: time ranges */

  const seconds = (value) => `${Number(value).toFixed(1)} s`;
  const spanFields = (span) => (span ? { from: span.from, to: span.to } : {});
  const spanText = (span) => (span ? ` · ${seconds(span.from)} to ${seconds(span.to)}` : '');

  /** The time range new marks get: null for the whole clip. */
  function currentSpan() {
    if (ui.wholeClip.checked) return null;
    const a = Number(ui.spanFrom.value);
    const b = Number(ui.spanTo.value);
    return { from: Math.min(a, b), to: Math.max(a, b) };
  }

  function showSpan(moved) {
    if (moved === ui.spanFrom && Number(ui.spanFrom.value) > Number(ui.spanTo.value)) ui.spanTo.value = ui.spanFrom.value;
    if (moved === ui.spanTo && Number(ui.spanTo.value) < Number(ui.spanFrom.value)) ui.spanFrom.value = ui.spanTo.value;
    ui.spanFields.hidden = ui.wholeClip.checked;
    ui.spanFromOut.textContent = seconds(ui.spanFrom.value);
    ui.spanToOut.textContent = seconds(ui.spanTo.value);
    const span = currentSpan();
    ui.spanHint.textContent = span
      ? `Brush strokes and boxes you add now hide their area from ${seconds(span.from)} to ${seconds(span.to)}.`
      : 'Brush strokes and boxes you add now hide their area in every frame.';
  }

  function brushRadius() {
    // The slider is relative to the photo: 1..100 maps to 0.1%..10% of its longer side.
    const side = Math.max(state.width, state.height) || 1000;
    return Math.max(1, round1((side * Number(ui.size.value)) / 1000));
  }

  function showSize() {
    ui.sizeOut.textContent = state.photo ? `${Math.round(brushRadius() * 2)} px` : '';
  }

  /* ------------------------------------------------------------------ pointer input */

  const drag = { id: null, kind: '', points: [], start: null, radius: 0 };

  function toImage(event) {
    const rect = ui.stage.getBoundingClientRect();
    return [
      round1(clamp(((event.clientX - rect.left) / rect.width) * state.width, 0, state.width)),
      round1(clamp(((event.clientY - rect.top) / rect.height) * state.height, 0, state.height)),
    ];
  }

  function onPointerDown(event) {
    if (!state.photo || drag.id !== null) return;
    if (event.pointerType === 'mouse' && event.button !== 0) return;
    if (state.tool === 'faces' && event.target.closest('.face-box:not(.draft)')) return; // a click: toggles
    event.preventDefault();
    ui.stage.setPointerCapture(event.pointerId);
    drag.id = event.pointerId;
    drag.kind = state.tool === 'faces' ? 'add' : state.tool === 'eraser' ? 'erase' : 'paint';
    drag.start = toImage(event);
    drag.points = [drag.start];
    drag.radius = brushRadius();
    if (drag.kind === 'add') {
      ui.draft.hidden = false;
      percentBox(ui.draft, { x: drag.start[0], y: drag.start[1], w: 0, h: 0 });
    } else {
      drawStroke(paintContext(), { type: drag.kind, points: drag.points, radius: drag.radius });
    }
  }

  function draftBox(a, b) {
    return { x: Math.min(a[0], b[0]), y: Math.min(a[1], b[1]), w: Math.abs(a[0] - b[0]), h: Math.abs(a[1] - b[1]) };
  }

  function onPointerMove(event) {
    moveCursor(event);
    if (event.pointerId !== drag.id) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const point = toImage(e);
      if (drag.kind === 'add') {
        drag.points = [drag.start, point];
        percentBox(ui.draft, draftBox(drag.start, point));
        continue;
      }
      const last = drag.points[drag.points.length - 1];
      if (last[0] === point[0] && last[1] === point[1]) continue;
      drag.points.push(point);
      drawStroke(paintContext(), { type: drag.kind, points: [last, point], radius: drag.radius });
    }
  }

  function onPointerUp(event) {
    if (event.pointerId !== drag.id) return;
    const { kind, points, radius } = drag;
    drag.id = null;
    ui.draft.hidden = true;
    if (event.type === 'pointercancel' && kind === 'add') return;
    if (kind === 'add') {
      const box = draftBox(points[0], points[points.length - 1]);
      if (box.w >= MIN_BOX_PX && box.h >= MIN_BOX_PX) edit({ type: 'add', box });
      return;
    }
    edit({ type: kind, points, radius });
  }

  function moveCursor(event) {
    const brushing = state.tool !== 'faces' && event.pointerType !== 'touch' && state.photo;
    ui.cursor.hidden = !brushing;
    if (!brushing) return;
    const rect = ui.stage.getBoundingClientRect();
    const diameter = (2 * brushRadius() * rect.width) / state.width;
    ui.cursor.style.width = ui.cursor.style.height = `${diameter}px`;
    ui.cursor.style.left = `${event.clientX - rect.left - diameter / 2}px`;
    ui.cursor.style.top = `${event.clientY - rect.top - diameter / 2}px`;
  }

  function setTool(tool) {
    state.tool = tool;
    ui.stage.dataset.tool = tool;
    ui.toolHint.textContent = TOOL_HINTS[tool];
    const radio = ui.tools.querySelector(`input[value="${tool}"]`);
    if (radio && !radio.checked) radio.checked = true;
    ui.cursor.hidden = true;
  }

  /* ------------------------------------------------------------------ metadata panels */

  function findingItem(finding) {
    return node('li', { class: `finding risk-${finding.risk}` }, [
      node('span', { class: 'badge', text: finding.risk === 'none' ? 'info' : finding.risk }),
      node('span', { class: 'what', text: finding.what }),
      node('span', { class: 'where', text: `${finding.category} · ${finding.where}` }),
    ]);
  }

  function renderBefore(report) {
    if (!report) {
      ui.metaBefore.replaceChildren(node('p', {
        class: 'hint',
        text: 'The service could not list this file\'s metadata. The clean copy is rebuilt from pixels and checked anyway.',
      }));
      return;
    }
    const telling = report.findings.filter((f) => f.category !== STRUCTURE);
    const structural = report.findings.length - telling.length;
    const parts = [];
    if (!telling.length) {
      parts.push(node('p', { class: 'ok', text: 'No identifying metadata found.' }));
    } else {
      parts.push(node('p', { class: 'warn', text:
        `${telling.length} item${telling.length === 1 ? '' : 's'} that could say who, where, when or with what:` }));
      parts.push(node('ul', { class: 'findings', 'aria-label': 'Metadata in the file you opened' },
        telling.map(findingItem)));
    }
    if (structural) {
      parts.push(node('p', { class: 'hint', text:
        `Plus ${structural} part${structural === 1 ? '' : 's'} of image structure (needed to decode; not about you).` }));
    }
    ui.metaBefore.replaceChildren(...parts);
  }

  /** The clean copy's own report and the summary of what was done (both from /v1/clean report=true). */
  function renderAfter(report, summary) {
    const removed = summary.metadata_removed;
    const categories = summary.metadata_categories;
    const telling = report.findings.filter((f) => f.category !== STRUCTURE);
    const parts = [];
    if (report.clean) {
      parts.push(node('p', { class: 'ok', 'data-clean': 'true', text:
        'Checked: nothing identifying is left in the clean copy.' }));
      if (removed) {
        parts.push(node('p', { class: 'hint', text: `Removed ${removed} item${removed === 1 ? '' : 's'}` +
          (categories.length ? `: ${categories.join(', ')}.` : '.') }));
      }
    } else {
      parts.push(node('p', { class: 'warn', 'data-clean': 'false', text:
        'The clean copy still carries metadata; it will not be offered for download.' }));
      parts.push(node('ul', { class: 'findings' }, telling.map(findingItem)));
    }
    for (const note of summary.notes) parts.push(node('p', { class: 'hint', text: `Note: ${note}.` }));
    ui.metaAfter.replaceChildren(...parts);
  }

  /* ------------------------------------------------------------------ options and the clean copy */

  const method = () => ui.methods.querySelector('input:checked').value;
  // Per method with a strength, from GET /v1/methods: {strongest, default, weakest, cells (the user's choice)}.
  // The slider runs from weakest (left) to strongest (right); cells across a region, lower is stronger.
  const strengths = {};
  const sliderCells = (range) => range.strongest + range.weakest - Number(ui.strength.value);

  async function loadMethods() {
    try {
      const response = await fetch('/v1/methods', { credentials: 'omit', cache: 'no-store' });
      if (!response.ok) return;
      for (const { name, strength } of await response.json()) {
        if (strength) strengths[name] = { ...strength, cells: strength.default };
      }
    } catch (_) { /* without the list the service's own defaults apply: no strength is sent */ }
    showOptions();
  }

  function showOptions() {
    const m = method();
    const range = strengths[m];
    ui.strength.disabled = !range;
    ui.strengthField.classList.toggle('disabled', !range);
    if (range) {
      ui.strength.min = String(range.strongest);
      ui.strength.max = String(range.weakest);
      ui.strength.value = String(range.strongest + range.weakest - range.cells);
    }
    ui.strengthOut.textContent = range ? `${range.cells} cells across` : (m === 'fill' || m === 'mask' ? 'solid' : 'default');
    ui.fillField.hidden = m !== 'fill';
  }

  function strengthMoved() {
    const range = strengths[method()];
    if (!range) return;
    range.cells = sliderCells(range);
    showOptions();
  }

  function cleanForm() {
    const form = photoForm(state.photo);
    const m = method();
    form.append('method', m);
    if (strengths[m]) form.append('strength', String(strengths[m].cells));
    if (m === 'fill') form.append('fill', ui.fill.value);
    const boxes = faces().filter((face) => face.on).map(({ box }) => [box.x, box.y, box.w, box.h].map(round1));
    form.append('faces', JSON.stringify(boxes));
    const regions = regionsJson();
    if (regions) form.append('regions', regions);
    form.append('face_shape', ui.faceShape.value);
    form.append('background', ui.background.value);
    form.append('output_format', ui.format.value);
    form.append('report', 'true');   // JSON: the summary and the clean copy's own report, with the image
    return form;
  }

  function scheduleClean(delay) {
    clearTimeout(state.timer);
    ui.resultFrame.setAttribute('aria-busy', 'true');
    state.timer = setTimeout(runClean, delay);
  }

  async function runClean() {
    if (!state.photo) return;
    if (state.cleaning) return;       // the run in flight schedules the next one when it ends
    state.cleaning = true;
    const wanted = key();
    const session = state.session;
    try {
      const answer = await (await post('/v1/clean', cleanForm())).json();
      if (session !== state.session) return;
      showResult(answer, wanted);
      if (wanted === key()) setStatus('The clean copy is ready.');
      showError('');
    } catch (error) {
      if (session === state.session && wanted === key()) {
        showError(`Could not make the clean copy: ${error.message}`);
        setStatus('');
      }
    } finally {
      state.cleaning = false;
      if (state.photo && (!state.result || state.result.key !== key()) && !ui.error.textContent) {
        scheduleClean(0);
      } else {
        ui.resultFrame.setAttribute('aria-busy', 'false');
      }
      updateDownload();
    }
  }

  /** base64 -> Blob, without a data: URL (the page's connect-src is 'self' only). */
  function base64Blob(text, type) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return new Blob([bytes], { type });
  }

  /** The download suffix the library writes for a format (GET /v1/formats), without its dot. */
  function extension(name, mime) {
    const known = formats[name];
    if (known) return known.suffixes[0].replace(/^\./, '');
    return (mime.split('/')[1] || 'jpg').replace('jpeg', 'jpg');
  }

  function showResult(answer, wanted) {
    if (state.result) URL.revokeObjectURL(state.result.url);
    const { summary, output_report: report } = answer;
    state.result = {
      key: wanted, url: URL.createObjectURL(base64Blob(answer.image, answer.mime)), clean: report.clean === true,
      ext: extension(summary.format, answer.mime),
    };
    ui.result.src = state.result.url;
    ui.result.hidden = false;
    ui.resultPlaceholder.hidden = true;
    const nFaces = summary.faces_obscured;
    ui.resultSummary.textContent = `· ${nFaces} face${nFaces === 1 ? '' : 's'}` +
      `${summary.regions_obscured ? ' and marked areas' : ''} hidden`;
    renderAfter(report, summary);
  }

  function updateDownload() {
    const ready = Boolean(state.result && state.result.key === key() && state.result.clean);
    ui.download.disabled = !ready;
    ui.download.dataset.ready = String(ready);
    const waiting = state.kind !== 'video' ? 'Preparing the clean copy…'
      : state.job ? 'Cleaning the video…'
        : state.result ? 'Marks or options changed: clean the video again.' : 'Choose “Clean the video” when your marks are ready.';
    ui.downloadHint.textContent = !state.photo ? 'Saved under a neutral name, never the original\'s.'
      : ready ? `Saved as ${state.kind}-clean.${state.result.ext}, never under the original's name.` : waiting;
    if (state.kind === 'video') {   // one primary action at a time: clean, then download
      ui.download.classList.toggle('primary', ready);
      ui.startJob.classList.toggle('primary', !ready);
    }
  }

  function download() {
    if (ui.download.disabled || !state.result) return;
    const name = `${state.kind}-clean.${state.result.ext}`;
    const link = node('a', { href: state.result.url, download: name, rel: 'noopener' });
    document.body.append(link);
    link.click();
    link.remove();
  }

  /* ------------------------------------------------------------------ video jobs */

  function jobForm() {
    const form = photoForm(state.photo, 'video');
    const m = method();
    form.append('method', m);
    if (strengths[m]) form.append('strength', String(strengths[m].cells));
    if (m === 'fill') form.append('fill', ui.fill.value);
    form.append('faces', 'auto');   // found and tracked in every frame
    const regions = regionsJson();
    if (regions) form.append('regions', regions);
    form.append('face_shape', ui.faceShape.value);
    form.append('background', ui.background.value);
    form.append('audio', ui.audio.value);
    return form;
  }

  function updateJob() {
    const running = Boolean(state.job);
    ui.startJob.disabled = !state.photo || state.kind !== 'video' || running || ui.startJob.dataset.sending === 'true';
    ui.startJob.textContent = state.result && state.result.key !== key() ? 'Clean the video again' : 'Clean the video';
    ui.cancelJob.hidden = !running;
    ui.resultFrame.setAttribute('aria-busy', String(running));
  }

  function showProgress(status) {
    if (status.progress === null) ui.jobProgress.removeAttribute('value');
    else ui.jobProgress.value = status.progress;
    const frames = status.frames_total ? `frame ${status.frames_done} of ${status.frames_total}` : 'starting';
    const eta = status.eta === null ? '' : ` · about ${Math.max(1, Math.round(status.eta))} s left`;
    ui.jobText.textContent = status.state === 'queued' ? 'Waiting for another video to finish…'
      : status.state === 'running' ? `Cleaning: ${frames}${eta}` : status.state === 'done' ? 'Done.' : '';
    ui.job.dataset.state = status.state;
    ui.job.dataset.frames = String(status.frames_done);
  }

  async function startJob() {
    if (state.kind !== 'video' || state.job || !state.photo) return;
    const session = state.session;
    const wanted = key();
    showError('');
    ui.job.hidden = false;
    ui.job.dataset.state = 'uploading';
    ui.jobProgress.removeAttribute('value');
    ui.jobText.textContent = 'Sending the video to the service on this computer…';
    ui.startJob.dataset.sending = 'true';
    updateJob();
    try {
      const job = await (await post('/v1/jobs', jobForm())).json();
      if (session !== state.session) { discard(job.urls); return; }
      state.job = { id: job.id, urls: job.urls, key: wanted, events: null };
      setStatus('Cleaning the video…');
      showProgress(job);
      follow(state.job, session);
    } catch (error) {
      if (session !== state.session) return;
      ui.job.hidden = true;
      showError(`Could not start cleaning the video: ${error.message}`);
    } finally {
      ui.startJob.dataset.sending = 'false';
      updateJob();
      updateDownload();
    }
  }

  function discard(urls) {
    fetch(urls.status, { method: 'DELETE', credentials: 'omit', cache: 'no-store' }).catch(() => {});
  }

  function stopFollowing(job) {
    if (job.events) job.events.close();
    if (state.job === job) state.job = null;
    updateJob();
    updateDownload();
  }

  /** Progress as Server-Sent Events; no polling loop. The stream ends when the job does. */
  function follow(job, session) {
    const events = new EventSource(job.urls.events);
    job.events = events;
    events.addEventListener('status', (event) => {
      if (state.job !== job) { events.close(); return; }
      const status = JSON.parse(event.data);
      showProgress(status);
      if (status.state === 'done') {
        events.close();
        fetchResult(job, status.summary, session);
      } else if (status.state === 'failed' || status.state === 'cancelled') {
        stopFollowing(job);
        discard(job.urls);
        ui.job.hidden = true;
        showError(status.error ? `Could not clean the video: ${status.error.message}` : 'The cleaning was cancelled.');
        setStatus('');
      }
    });
    events.addEventListener('error', () => {
      if (events.readyState !== EventSource.CLOSED || state.job !== job) return;
      stopFollowing(job);
      ui.job.hidden = true;
      showError('Lost track of the cleaning (the service may have restarted). Please clean the video again.');
    });
  }

  async function fetchResult(job, summary, session) {
    ui.jobText.textContent = 'Fetching the clean video…';
    try {
      const response = await fetch(job.urls.result, { credentials: 'omit', cache: 'no-store' });
      if (!response.ok) throw new ApiError(await errorMessage(response));
      const blob = await response.blob();
      if (session !== state.session || state.job !== job) return;
      if (state.result) URL.revokeObjectURL(state.result.url);
      // The service verifies a video before it offers it (fail closed): a result exists only if it passed.
      state.result = { key: job.key, url: URL.createObjectURL(blob), clean: true, ext: extension(summary.format, blob.type) };
      ui.resultVideo.src = state.result.url;
      ui.resultVideo.hidden = false;
      ui.result.hidden = true;
      ui.resultPlaceholder.hidden = true;
      const n = summary.faces_obscured;
      ui.resultSummary.textContent = `· ${n} face${n === 1 ? '' : 's'}${summary.regions_obscured ? ' and marked areas' : ''}` +
        ` hidden in ${summary.video.frames} frames`;
      renderVideoAfter(summary);
      ui.jobText.textContent = 'Done. Play it here, then download it.';
      setStatus('The clean video is ready.');
    } catch (error) {
      if (session === state.session) showError(`Could not fetch the clean video: ${error.message}`);
    } finally {
      if (state.job === job) stopFollowing(job);
    }
  }

  async function cancelJob() {
    const job = state.job;
    if (!job) return;
    stopFollowing(job);
    discard(job.urls);
    ui.job.hidden = true;
    setStatus('Cancelled. Nothing was kept.');
  }

  function renderVideoAfter(summary) {
    const removed = summary.metadata_removed;
    const parts = [node('p', { class: 'ok', 'data-clean': 'true', text:
      'Checked by the service: nothing identifying is left in the clean video\'s file.' })];
    if (removed) {
      parts.push(node('p', { class: 'hint', text: `Removed ${removed} item${removed === 1 ? '' : 's'}` +
        (summary.metadata_categories.length ? `: ${summary.metadata_categories.join(', ')}.` : '.') }));
    }
    parts.push(node('p', { class: summary.video.audio_kept ? 'warn' : 'hint', text: summary.video.audio_kept
      ? 'The sound track was kept: voices can identify people.' : 'The clean video has no sound track.' }));
    for (const note of summary.notes) parts.push(node('p', { class: 'hint', text: `Note: ${note}.` }));
    ui.metaAfter.replaceChildren(...parts);
  }

  /** Shows the controls for what is open: a photo (live clean copy) or a video (a job on demand). */
  function showKind() {
    const video = state.kind === 'video';
    ui.videoCard.hidden = !video;
    ui.spanBlock.hidden = !video;
    ui.audioField.hidden = !video;
    ui.formatField.hidden = video;
    ui.editorKind.textContent = video ? 'Your video (one frame of it)' : 'Your photo';
    ui.download.textContent = video ? 'Download clean video' : 'Download clean photo';
    ui.resultPlaceholder.textContent = video ? 'The clean video plays here once it is cleaned.'
      : 'The clean copy appears here.';
    ui.job.hidden = true;
    if (video) {
      const v = state.video;
      const duration = v.duration || 0;
      ui.videoFacts.textContent = `${seconds(duration)}, ${Math.round(v.frame_rate * 100) / 100} frames a second` +
        `${v.frames ? `, ${v.frames} frames` : ''}${v.audio ? ', with sound' : ', no sound'}. ` +
        `The frame shown is at ${seconds(v.poster_time)}.`;
      for (const input of [ui.spanFrom, ui.spanTo]) input.max = String(Math.max(0.1, duration));
      ui.spanFrom.value = '0';
      ui.spanTo.value = String(Math.max(0.1, duration));
      showSpan();
    }
    updateJob();
  }

  /* ------------------------------------------------------------------ opening and closing */

  function reset() {
    clearTimeout(state.timer);
    state.session += 1;
    if (state.job) {   // closing a video that is being cleaned cancels the job: nothing is kept
      const job = state.job;
      stopFollowing(job);
      discard(job.urls);
    }
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    if (state.result) URL.revokeObjectURL(state.result.url);
    Object.assign(state, {
      photo: null, width: 0, height: 0, detected: [], ops: [], undone: [], result: null, previewUrl: '',
      kind: 'photo', video: null, job: null,
    });
    ui.resultVideo.removeAttribute('src');
    ui.resultVideo.hidden = true;
    ui.wholeClip.checked = true;
    showKind();
    ui.photo.removeAttribute('src');
    ui.result.removeAttribute('src');
    ui.result.hidden = true;
    ui.resultPlaceholder.hidden = false;
    ui.resultSummary.textContent = '';
    ui.stage.hidden = true;
    ui.dropzone.hidden = false;
    ui.close.disabled = true;
    ui.open.classList.add('primary');
    ui.download.classList.remove('primary');
    ui.undo.disabled = ui.redo.disabled = true;
    ui.resultFrame.setAttribute('aria-busy', 'false');
    ui.metaBefore.replaceChildren(node('p', { class: 'hint', text: 'Nothing opened yet.' }));
    ui.metaAfter.replaceChildren(node('p', { class: 'hint', text: 'Checked after cleaning.' }));
    showError('');
    renderFaces();
    showSize();
    updateDownload();
  }

  /** Whether a file is a video, from its type or its suffix (GET /v1/formats); the service sniffs it anyway. */
  function isVideoFile(file) {
    if (file.type && file.type.startsWith('video/')) return true;
    const suffix = (/\.[^.]+$/.exec(file.name || '') || [''])[0].toLowerCase();
    return Object.values(formats).some((f) => f.kind === 'video' && f.suffixes.includes(suffix));
  }

  async function openPhoto(file) {
    if (!file) return;
    reset();
    const session = state.session;
    const part = isVideoFile(file) ? 'video' : 'photo';
    setStatus(part === 'video' ? 'Reading the video and looking for faces in one of its frames…'
      : 'Reading the photo and looking for faces…');
    try {
      // One upload: the faces, the metadata report and the upright preview to draw on come in one answer
      // (for a video: those of its poster frame, and its timing).
      const form = photoForm(file, part);
      form.append('preview', 'true');
      const found = await (await post('/v1/detect', form)).json();
      if (session !== state.session) return;
      state.previewUrl = URL.createObjectURL(base64Blob(found.preview.data, found.preview.mime));
      ui.photo.src = state.previewUrl;
      await ui.photo.decode();
      if (session !== state.session) return;
      Object.assign(state, {
        photo: file, width: found.width, height: found.height, kind: found.video ? 'video' : 'photo',
        video: found.video || null,
      });
      showKind();
      state.detected = found.faces.map((face, i) => ({ id: `d${i}`, box: face.box, score: face.score }));
      ui.stage.style.setProperty('--ratio', String(found.width / found.height));
      ui.stage.hidden = false;
      ui.dropzone.hidden = true;
      ui.close.disabled = false;
      ui.open.classList.remove('primary');
      ui.download.classList.add('primary');
      sizePaintLayer();
      renderBefore(found.metadata);
      showSize();
      const n = found.faces.length;
      if (state.kind === 'video') {
        setStatus(`Found ${n} face${n === 1 ? '' : 's'} in this frame. Mark anything else to hide, then clean the video.`);
        changed();
        return;
      }
      setStatus(`Found ${n} face${n === 1 ? '' : 's'}. Making the clean copy…`);
      changed();
      scheduleClean(0);
    } catch (error) {
      if (session !== state.session) return;
      reset();
      setStatus('');
      showError(`Could not open this ${part}: ${error.message}`);
    }
  }

  /* ------------------------------------------------------------------ wiring */

  function isTyping(target) {
    return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName)
      && !['radio', 'checkbox', 'range', 'button'].includes(target.type));
  }

  function onKey(event) {
    if (isTyping(event.target)) return;
    const mod = event.ctrlKey || event.metaKey;
    const k = event.key.toLowerCase();
    if (mod && k === 'z') { event.preventDefault(); if (event.shiftKey) redo(); else undo(); }
    else if (mod && k === 'y') { event.preventDefault(); redo(); }
    else if (mod || event.altKey) return;
    // Letter keys act only when no control has the focus, so they never get in the way of typing or of
    // a screen reader's own keys on the form.
    else if (event.target !== document.body && event.target !== ui.stage && event.target.id !== 'main') return;
    else if (k === 'b') setTool('brush');
    else if (k === 'e') setTool('eraser');
    else if (k === 'f') setTool('faces');
    else if (k === '[' || k === ']') {
      ui.size.value = String(clamp(Number(ui.size.value) + (k === ']' ? 5 : -5), 1, 100));
      showSize();
    }
  }

  function hasFiles(event) {
    return event.dataTransfer && Array.from(event.dataTransfer.types || []).includes('Files');
  }

  function wireDrop() {
    let depth = 0;
    document.addEventListener('dragenter', (event) => {
      if (!hasFiles(event)) return;
      depth += 1;
      ui.dropOverlay.hidden = false;
    });
    document.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) ui.dropOverlay.hidden = true;
    });
    document.addEventListener('dragover', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    });
    document.addEventListener('drop', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      ui.dropOverlay.hidden = true;
      openPhoto(event.dataTransfer.files[0]);
    });
  }

  function wire() {
    ui.open.addEventListener('click', () => ui.file.click());
    ui.file.addEventListener('change', () => {
      const [file] = ui.file.files;
      ui.file.value = '';     // the same file can be opened again; the input keeps nothing
      openPhoto(file);
    });
    ui.openVideo.addEventListener('click', () => ui.videoFile.click());
    ui.videoFile.addEventListener('change', () => {
      const [file] = ui.videoFile.files;
      ui.videoFile.value = '';
      openPhoto(file);
    });
    ui.wholeClip.addEventListener('change', () => showSpan());
    for (const input of [ui.spanFrom, ui.spanTo]) input.addEventListener('input', () => showSpan(input));
    ui.startJob.addEventListener('click', startJob);
    ui.cancelJob.addEventListener('click', cancelJob);
    ui.audio.addEventListener('change', optionsChanged);
    ui.close.addEventListener('click', () => { reset(); setStatus('Closed. Nothing was kept.'); ui.open.focus(); });
    ui.tools.addEventListener('change', (event) => setTool(event.target.value));
    ui.size.addEventListener('input', showSize);
    ui.undo.addEventListener('click', undo);
    ui.redo.addEventListener('click', redo);
    ui.faceList.addEventListener('change', (event) => {
      if (event.target.dataset.id) toggleFace(event.target.dataset.id);
    });
    ui.faceLayer.addEventListener('click', (event) => {
      const box = event.target.closest('.face-box');
      if (box && state.tool === 'faces') toggleFace(box.dataset.id);
    });
    ui.methods.addEventListener('change', () => { showOptions(); optionsChanged(); });
    ui.strength.addEventListener('input', strengthMoved);
    for (const input of [ui.strength, ui.fill, ui.faceShape, ui.background, ui.format]) {
      input.addEventListener('change', optionsChanged);
    }
    ui.download.addEventListener('click', download);
    ui.stage.addEventListener('pointerdown', onPointerDown);
    ui.stage.addEventListener('pointermove', onPointerMove);
    ui.stage.addEventListener('pointerup', onPointerUp);
    ui.stage.addEventListener('pointercancel', onPointerUp);
    ui.stage.addEventListener('pointerleave', () => { ui.cursor.hidden = true; });
    document.addEventListener('keydown', onKey);
    wireDrop();
  }

  /** What the page accepts and offers, from GET /v1/formats: the file picker's types, the hint under it, the
   * "Save as" choices and the download suffixes. Nothing about formats is written in this page. */
  async function loadFormats() {
    try {
      const response = await fetch('/v1/formats', { credentials: 'omit', cache: 'no-store' });
      if (!response.ok) return;
      const all = await response.json();
      for (const f of all) formats[f.name] = f;
      const photos = all.filter((f) => f.kind === 'photo');
      const videos = all.filter((f) => f.kind === 'video');
      ui.file.accept = photos.flatMap((f) => [f.mime, ...f.suffixes]).join(',');
      ui.videoFile.accept = videos.flatMap((f) => [f.mime, ...f.suffixes]).join(',');
      const list = (labels) => `${labels.slice(0, -1).join(', ')} or ${labels[labels.length - 1]}`;
      ui.openHint.textContent = `Photos: ${list(photos.map((f) => f.label))}. ` +
        `Videos: ${list(videos.map((f) => f.label))}. You can also drop a file anywhere on the page.`;
      ui.format.append(...photos.filter((f) => f.writable).map((f) =>
        node('option', { value: f.name, text: f.label })));
    } catch (_) { /* without the list the picker accepts any file; the service says what it cannot read */ }
  }

  wire();
  setTool('faces');
  showOptions();
  loadMethods();
  loadFormats();
  reset();
  setStatus('');
})();
