// The demo page's behaviour: it uses gatepost.js exactly as an application
// would.
import { uploadFile, uploadLargeFile } from "/gatepost.js";

// Files above this go up as multipart uploads (parallel parts).
const multipartThreshold = 64 << 20;

const $ = (id) => document.getElementById(id);
let controller = null;

function show(state) {
  document.body.dataset.state = state;
  $("upload").disabled = state === "uploading";
  $("cancel").disabled = state !== "uploading";
}

function formatBytes(n) {
  const units = ["bytes", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  $("result").hidden = true;
  $("error").hidden = true;
  $("progress").value = 0;
  $("status").textContent = `Uploading ${file.name} (${formatBytes(file.size)})…`;
  show("uploading");
  controller = new AbortController();
  const started = performance.now();
  try {
    const upload = file.size > multipartThreshold ? uploadLargeFile : uploadFile;
    const r = await upload(file, {
      profile: $("profile").value.trim() || undefined,
      token: $("token").value.trim() || undefined,
      signal: controller.signal,
      // Large files resume: cancel, or reload the page, and upload the
      // same file again to send only the parts the store lacks.
      resume: true,
      onProgress: (p) => {
        $("progress").value = p.fraction;
        $("status").textContent = `Uploading ${file.name}: ${Math.round(p.fraction * 100)}% (${formatBytes(p.loaded)} of ${formatBytes(p.total)})`;
      },
    });
    const seconds = (performance.now() - started) / 1000;
    $("result-key").textContent = r.key;
    $("result-bucket").textContent = r.bucket;
    $("result-size").textContent = formatBytes(r.size);
    $("result-time").textContent = `${seconds.toFixed(2)} s`;
    $("result-verdict").textContent = r.state === "UPLOAD_STATE_VERIFIED"
      ? `verified${r.sniffedType ? ` (its bytes are ${r.sniffedType})` : ""}` : r.state;
    $("result").hidden = false;
    $("status").textContent = "Done.";
    show("done");
  } catch (err) {
    $("error-message").textContent = err.message;
    $("error-detail").textContent = [err.source, err.code, err.status].filter(Boolean).join(" · ");
    if (err.reasons && err.reasons.length) $("error-message").textContent = `The file was rejected: ${err.reasons.join("; ")}`;
    $("error").hidden = false;
    $("status").textContent = "";
    show("failed");
  }
});

$("cancel").addEventListener("click", () => controller && controller.abort());
