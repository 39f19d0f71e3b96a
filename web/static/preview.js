// The live panel preview: frames from the host's event stream drawn as round LEDs.
//
// The stream (GET /api/v1/events, server-sent events) sends only changed frames, each the
// panel's RGB bytes compressed with zlib and base64-encoded. Each pixel becomes a round dot
// on black, as the real panel and `ledhost run --led` look, never a blurred scaled image.
"use strict";

window.ledhostPreview = (() => {
  async function inflate(base64) {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  function ledSize(canvas, width, height) {
    const box = canvas.parentElement.getBoundingClientRect();
    const fit = Math.floor(Math.max(box.width, 64) / width);
    return Math.max(2, Math.min(fit, 16));
  }

  function draw(canvas, frame) {
    const { width, height, rgb } = frame;
    const pitch = ledSize(canvas, width, height);
    const ratio = window.devicePixelRatio || 1;
    const cssWidth = width * pitch;
    const cssHeight = height * pitch;
    if (canvas.width !== Math.round(cssWidth * ratio) || canvas.height !== Math.round(cssHeight * ratio)) {
      canvas.width = Math.round(cssWidth * ratio);
      canvas.height = Math.round(cssHeight * ratio);
      canvas.style.width = `${cssWidth}px`;
      canvas.style.height = `${cssHeight}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, cssWidth, cssHeight);
    const radius = pitch * 0.42;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 3;
        const r = rgb[i], g = rgb[i + 1], b = rgb[i + 2];
        // An unlit LED is still faintly visible on a real panel.
        ctx.fillStyle = (r | g | b) ? `rgb(${r},${g},${b})` : "#141414";
        ctx.beginPath();
        ctx.arc(x * pitch + pitch / 2, y * pitch + pitch / 2, radius, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    canvas.dataset.seq = String(frame.seq);
    canvas.dataset.width = String(width);
    canvas.dataset.height = String(height);
  }

  function start(canvas, stateLine, { onState } = {}) {
    let latest = null;
    let painting = false;
    let frames = 0;

    // Draw at most once per animation frame: a burst of events costs one paint.
    function paint() {
      painting = false;
      if (!latest) return;
      draw(canvas, latest);
      window.ledhostPreview.last = latest;
      // How far the picture is behind the host (same clock when both run on one machine).
      if (latest.at) {
        const delays = window.ledhostPreview.delays;
        delays.push(Date.now() / 1000 - latest.at);
        if (delays.length > 1000) delays.shift();
      }
      latest = null;
    }

    function connect() {
      const source = new EventSource("/api/v1/events?kinds=frames,state");
      source.addEventListener("open", () => { stateLine.textContent = "Live"; });
      source.addEventListener("frame", async (event) => {
        const data = JSON.parse(event.data);
        const rgb = await inflate(data.rgb_zlib);
        latest = { width: data.width, height: data.height, seq: data.seq, rgb, at: data.at };
        frames += 1;
        canvas.dataset.frames = String(frames);
        if (!painting) { painting = true; requestAnimationFrame(paint); }
      });
      source.addEventListener("state", () => { if (onState) onState(); });
      source.addEventListener("error", () => {
        stateLine.textContent = "Reconnecting…";
      });
      return source;
    }
    window.ledhostPreview.source = connect();
  }

  return { start, draw, inflate, last: null, source: null, delays: [] };
})();
