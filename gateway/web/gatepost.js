// gatepost.js: upload a file from the browser straight to S3 with a
// presigned POST from gatepost. A dependency-free ES module:
//
//   import { uploadFile } from "/gatepost.js";
//   const { key, bucket, location } = await uploadFile(file, {
//     profile: "default",          // optional
//     token: "...",                // optional bearer token (API key or JWT)
//     onProgress: (p) => bar.value = p.fraction,
//     signal: abortController.signal,
//   });
//
// It does the four steps: GET /v1/presign, build a FormData with every
// returned field and the file last, POST it to the returned URL with upload
// progress, and POST /v1/uploads/finalize so that gatepost verifies what
// arrived. It resolves with the verdict (`state: "UPLOAD_STATE_VERIFIED"`,
// `sniffedType`). On failure it rejects with an UploadError whose `source`
// says who refused ("gatepost", "s3", "verification", "network" or
// "abort"), with `code` (the gRPC code name, the S3 error code, or
// "Rejected" with `reasons` when verification rejected the file), `status`
// (HTTP) and a plain-words `message`.
//
// uploadLargeFile(file, {...the same options, concurrency}) uploads files of
// any size as a multipart upload: parallel parts straight to the store,
// each with the headers gatepost signed into its URL, progress over all of
// them, and an abort of the upload on any failure; completing it returns
// gatepost's verdict the same way. The bucket's CORS rule
// must allow PUT and those request headers (AllowedHeaders ["*"]).

/** An upload that failed, with who refused it and why. */
export class UploadError extends Error {
  constructor(message, { source, code, status, detail, retryAfter, reasons } = {}) {
    super(message);
    this.name = "UploadError";
    this.source = source;
    this.code = code;
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.reasons = reasons || [];
  }
}

const gatepostWords = {
  400: (d) => `The upload request was refused: ${d}`,
  401: () => "You are not signed in, or your token is invalid or has expired.",
  403: (d) => `You may not upload with this profile (${d}).`,
  429: (d, retry) => `Too many uploads; try again in ${retry || "a few"} seconds.`,
  503: () => "gatepost cannot sign uploads right now; try again later.",
};

const s3Words = {
  EntityTooLarge: "The file is larger than this upload allows.",
  EntityTooSmall: "The file is smaller than this upload requires (is it empty?).",
  AccessDenied: "The storage refused the upload (the upload permission does not match or has expired).",
  SignatureDoesNotMatch: "The storage refused the upload: its signature does not match.",
  ExpiredToken: "The upload permission has expired; try again.",
};

// callGatepost fetches a gatepost API and returns its JSON answer, or
// throws an UploadError with gatepost's refusal in plain words.
async function callGatepost(url, { token, signal, method = "GET", body } = {}) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    if (err.name === "AbortError") throw new UploadError("The upload was cancelled.", { source: "abort", code: "Aborted" });
    throw new UploadError("gatepost could not be reached (network or CORS).", { source: "network", code: "NetworkError", detail: String(err) });
  }
  let answer = {};
  try { answer = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const retry = Number(res.headers.get("Retry-After")) || undefined;
    const words = gatepostWords[res.status];
    const detail = answer.message || res.statusText;
    throw new UploadError(words ? words(detail, retry) : `gatepost answered ${res.status}: ${detail}`, {
      source: "gatepost", code: grpcCodeName(answer.code), status: res.status, detail, retryAfter: retry,
    });
  }
  return answer;
}

/**
 * Asks gatepost for a presigned POST for file.
 * @returns {Promise<{url: string, fields: Object<string,string>, key: string, bucket: string}>}
 */
export async function presign(file, { profile, token, endpoint = "", key, contentType, metadata, signal } = {}) {
  const q = new URLSearchParams({
    key: key || file.name,
    content_type: contentType || file.type || "application/octet-stream",
    content_length: String(file.size),
  });
  if (profile) q.set("profile", profile);
  for (const [name, value] of Object.entries(metadata || {})) q.set(`metadata[${name}]`, value);
  return callGatepost(`${endpoint}/v1/presign?${q}`, { token, signal });
}

/**
 * Uploads file: presign, POST every field and the file (last), then have
 * gatepost verify it.
 * @returns {Promise<{key: string, bucket: string, location: string, size: number, state: string, sniffedType: string}>}
 */
export async function uploadFile(file, options = {}) {
  const p = await presign(file, options);
  const form = new FormData();
  Object.entries(p.fields).forEach(([k, v]) => form.append(k, v));
  form.append("file", file);
  await send("POST", p.url, form, file.size, options.onProgress, options.signal);
  const verdict = await finalize(p.key, options);
  return { key: p.key, bucket: p.bucket, location: locationOf(p.url, p.key), size: file.size, ...verdict };
}

/**
 * Asks gatepost to verify the upload at key (POST /v1/uploads/finalize)
 * and returns its verdict; a rejection throws an UploadError with source
 * "verification", code "Rejected" and the reasons. While gatepost cannot
 * verify (503) it asks again a few times.
 * @returns {Promise<{state: string, sniffedType: string, reasons: string[]}>}
 */
export async function finalize(key, { profile, token, endpoint = "", signal } = {}) {
  const call = () => callGatepost(`${endpoint}/v1/uploads/finalize`, { token, signal, method: "POST", body: { key, profile: profile || "" } });
  let answer;
  for (let attempt = 0; ; attempt++) {
    try {
      answer = await call();
      break;
    } catch (err) {
      if (err.status !== 503 || attempt >= 3) {
        if (err.status === 503) {
          throw new UploadError("The file was uploaded, but gatepost cannot check it right now; it is not available until it is checked.", {
            source: "verification", code: "Unavailable", status: 503, detail: err.detail,
          });
        }
        throw err;
      }
      await sleep(1000 * 2 ** attempt, signal);
    }
  }
  return verdictOf(answer);
}

// verdictOf turns a finalize (or complete) answer into the caller's result,
// throwing when verification rejected the file.
function verdictOf(answer) {
  const reasons = answer.reasons || [];
  if (answer.state === "UPLOAD_STATE_REJECTED") {
    throw new UploadError(`The file was rejected: ${reasons.join("; ")}`, { source: "verification", code: "Rejected", reasons });
  }
  return { state: answer.state, sniffedType: answer.sniffed_type || "", reasons };
}

/**
 * Uploads a large file as a multipart upload: gatepost chooses the part
 * size and signs each part's URL with its exact size; parts go up in
 * parallel (options.concurrency, default 4) straight to the store; gatepost
 * checks every part and completes. On any failure or abort the upload is
 * aborted, so no parts are left behind. Completion is verification: it
 * resolves with the verdict, or rejects as uploadFile does. A part that
 * fails for a dropped connection or the store's 5xx is sent again (up to 3
 * times, waiting 1, 2, 4 s, or the store's Retry-After when longer, with a
 * fresh URL).
 *
 * options.resume (true: the browser's localStorage; or any object with
 * getItem/setItem/removeItem) keeps the upload token, by profile, key, size
 * and modification time of the file, until the upload completes; a
 * failed or cancelled upload is then kept rather than aborted, and calling
 * uploadLargeFile again with the same file sends only the parts the store
 * does not hold yet.
 * @returns {Promise<{key: string, bucket: string, location: string, size: number, state: string, sniffedType: string}>}
 */
export async function uploadLargeFile(file, options = {}) {
  const { profile, token, endpoint = "", key, contentType, metadata, onProgress } = options;
  const concurrency = Math.max(1, options.concurrency || 4);
  // The caller's signal, and the first failure: either stops every worker.
  const stop = new AbortController();
  const signal = stop.signal;
  if (options.signal) {
    if (options.signal.aborted) stop.abort();
    else options.signal.addEventListener("abort", () => stop.abort(), { once: true });
  }
  const api = (path, body) => callGatepost(`${endpoint}${path}`, { token, signal, method: "POST", body });
  const saved = savedUploads(options.resume);
  const savedAs = `gatepost:upload:${profile || ""}:${key || file.name}:${file.size}:${file.lastModified || 0}`;
  // Resuming: the parts the store already holds are not sent again.
  let up = null;
  const have = new Set();
  const token0 = saved && saved.getItem(savedAs);
  if (token0) {
    let listed = null;
    try {
      listed = await retryRateLimited(() => api("/v1/multipart/list", { upload_token: token0 }), signal);
    } catch (err) {
      // Only an upload gatepost no longer knows (expired, completed,
      // aborted) starts afresh; anything else (a sign-in to renew, an
      // outage) keeps the token for the next try.
      if (err.status !== 400 && err.status !== 404) throw err;
      saved.removeItem(savedAs);
    }
    if (listed && Number(listed.total_size) === file.size) {
      const missing = new Set(listed.missing_part_numbers || []);
      for (let n = 1; n <= listed.part_count; n++) if (!missing.has(n)) have.add(n);
      up = { upload_token: token0, part_size: listed.part_size, part_count: listed.part_count, key: listed.key,
        parts_per_call: listed.parts_per_call };
    } else if (listed) {
      saved.removeItem(savedAs); // another file's upload under this name: not ours to finish
    }
  }
  if (!up) {
    up = await api("/v1/multipart", {
      key: key || file.name,
      content_type: contentType || file.type || "application/octet-stream",
      total_size: String(file.size),
      profile: profile || "",
      metadata: metadata || {},
    });
    if (saved) saved.setItem(savedAs, up.upload_token);
  }
  const partSize = Number(up.part_size);
  const count = Number(up.part_count);
  const loaded = new Array(count + 1).fill(0);
  for (const n of have) loaded[n] = Math.min(partSize, file.size - (n - 1) * partSize);
  const report = () => {
    if (!onProgress) return;
    const sum = loaded.reduce((a, b) => a + b, 0);
    onProgress({ loaded: sum, total: file.size, fraction: file.size ? sum / file.size : 1 });
  };
  report();
  let location = "";
  let completed = false;
  const presignParts = (numbers) => retryRateLimited(
    () => api("/v1/multipart/parts", { upload_token: up.upload_token, part_numbers: numbers }), signal);
  try {
    const todo = [];
    for (let n = 1; n <= count; n++) if (!have.has(n)) todo.push(n);
    // A few URLs at a time, just before they are used: each costs one
    // request of the caller's rate limit, and URLs expire. At most 8 a
    // call, fewer when the caller's rate limit allows fewer.
    const perCall = Math.min(8, Number(up.parts_per_call) || 8);
    const worker = async () => {
      while (todo.length) {
        const batch = todo.splice(0, perCall);
        const { parts } = await presignParts(batch);
        for (let p of parts) {
          location = objectURL(p.url);
          const start = (p.part_number - 1) * partSize;
          const blob = file.slice(start, start + Number(p.content_length));
          for (let attempt = 0; ; attempt++) {
            try {
              await send("PUT", p.url, blob, blob.size, (e) => { loaded[p.part_number] = e.loaded; report(); }, signal, p.headers);
              break;
            } catch (err) {
              // A dropped connection or the store's 5xx: again, after a
              // growing wait, with a fresh URL (the old may have expired).
              const transient = err.source === "network" || (err.source === "s3" && err.status >= 500);
              if (!transient || attempt >= partRetries) throw err;
              loaded[p.part_number] = 0;
              // The back-off, or the store's Retry-After when longer (at
              // most 30 s).
              await sleep(Math.max(1000 * 2 ** attempt, Math.min((err.retryAfter || 0) * 1000, 30000)), signal);
              p = (await presignParts([p.part_number])).parts[0];
            }
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    if (!location) {
      // Every part was there already (resumed): the URL of one names the object.
      location = objectURL((await presignParts([1])).parts[0].url);
    }
    const complete = () => retryRateLimited(() => api("/v1/multipart/complete", { upload_token: up.upload_token }), signal);
    let done;
    try {
      done = await complete();
    } catch (err) {
      if (err.code !== "Aborted") throw err;
      done = await complete(); // a part changed while gatepost completed: once more
    }
    completed = true;
    if (saved) saved.removeItem(savedAs);
    // Completing verifies; when it could not yet (PENDING), ask again.
    const verdict = done.state === "UPLOAD_STATE_PENDING" ? await finalize(done.key, options) : verdictOf(done);
    return { key: done.key, bucket: done.bucket, location, size: Number(done.size), ...verdict };
  } catch (err) {
    stop.abort(); // the other workers stop too
    if (completed) throw err; // nothing left to abort
    // With resume, the parts stay for the next try (a lifecycle rule on
    // the bucket removes uploads nobody comes back to).
    if (saved) throw err;
    // Best effort: free the parts. Not tied to signal, so it also runs
    // after a cancellation.
    callGatepost(`${endpoint}/v1/multipart/abort`, { token, method: "POST", body: { upload_token: up.upload_token } }).catch(() => {});
    throw err;
  }
}

// objectURL is the object's URL from one of its part URLs: without the
// part's signature, at its final key (a staging profile's parts go to
// .gatepost/staging/).
function objectURL(partURL) {
  return partURL.split("?")[0].replace("/.gatepost/staging/", "/");
}

// partRetries is how often a part is sent again after a transient failure.
const partRetries = 3;

// savedUploads is where upload tokens are kept for resuming: options.resume
// true means the browser's localStorage; an object with getItem, setItem
// and removeItem is used as it is; anything else keeps nothing.
function savedUploads(resume) {
  if (resume === true) return globalThis.localStorage;
  if (resume && typeof resume.getItem === "function") return resume;
  return null;
}

// retryRateLimited calls gatepost again after the wait it asks for when it
// refuses for rate (429), a few times at most and only for short waits: a
// refusal in the middle of an upload would waste the parts already sent.
async function retryRateLimited(call, signal) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const wait = err.retryAfter || 1;
      if (err.status !== 429 || attempt >= 3 || wait > 30) throw err;
      await sleep(wait * 1000, signal);
    }
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const cancelled = () => new UploadError("The upload was cancelled.", { source: "abort", code: "Aborted" });
    if (signal && signal.aborted) { reject(cancelled()); return; }
    const onAbort = () => { clearTimeout(timer); reject(cancelled()); };
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal) signal.addEventListener("abort", onAbort, { once: true });
  });
}

function locationOf(url, key) {
  return `${url.replace(/\/$/, "")}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

// The headers of a presigned request that the browser sets itself (and
// refuses to have set): from the body and the URL.
const browserHeaders = new Set(["content-length", "host"]);

// send uploads body with XMLHttpRequest, the one browser API that reports
// upload progress. headers are the ones signed into a presigned URL: each
// is sent exactly as given, an empty value too (the signature covers it).
function send(method, url, body, size, onProgress, signal, headers = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    let signed = false;
    for (const [name, value] of Object.entries(headers || {})) {
      if (browserHeaders.has(name.toLowerCase())) continue;
      xhr.setRequestHeader(name, value);
      signed = true;
    }
    xhr.upload.onprogress = (e) => {
      if (onProgress) {
        const total = e.lengthComputable ? e.total : size;
        onProgress({ loaded: e.loaded, total, fraction: total ? e.loaded / total : 0 });
      }
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        if (onProgress) onProgress({ loaded: size, total: size, fraction: 1 });
        resolve();
        return;
      }
      const { code, message } = s3Error(xhr.responseText);
      // Readable only when the bucket's CORS rule exposes it.
      const retryAfter = Number(xhr.getResponseHeader("Retry-After")) || undefined;
      reject(new UploadError(s3Words[code] || `The storage refused the upload: ${code || xhr.status} ${message || ""}`.trim(), {
        source: "s3", code: code || String(xhr.status), status: xhr.status, detail: message, retryAfter,
      }));
    };
    xhr.onerror = () => reject(new UploadError(signed
      ? "The storage could not be reached (network, or the bucket's CORS rule does not allow this method and its headers)."
      : "The storage could not be reached (network or bucket CORS).", { source: "network", code: "NetworkError" }));
    xhr.onabort = () => reject(new UploadError("The upload was cancelled.", { source: "abort", code: "Aborted" }));
    if (signal) {
      if (signal.aborted) { xhr.abort(); return; }
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(body);
  });
}

function s3Error(text) {
  try {
    const doc = new DOMParser().parseFromString(text, "application/xml");
    return {
      code: doc.querySelector("Error > Code")?.textContent || "",
      message: doc.querySelector("Error > Message")?.textContent || "",
    };
  } catch {
    return { code: "", message: text };
  }
}

const grpcCodes = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
  "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
  "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"];

function grpcCodeName(code) {
  return grpcCodes[code] || "Unknown";
}
