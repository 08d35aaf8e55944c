// Type declarations for gatepost.js, the browser helper gatepost serves at
// /gatepost.js and ships as the npm package @gatepost/client.

/** Who refused an upload. */
export type UploadErrorSource = "gatepost" | "s3" | "verification" | "network" | "abort";

/** An upload that failed, with who refused it and why. */
export declare class UploadError extends Error {
  constructor(message: string, details?: {
    source?: UploadErrorSource; code?: string; status?: number; detail?: string; retryAfter?: number; reasons?: string[];
  });
  readonly name: "UploadError";
  /** Who refused: gatepost, the store, gatepost's verification, the network, or a cancellation. */
  source: UploadErrorSource;
  /** The gRPC code name (gatepost), the S3 error code (store), "Rejected" (verification), "NetworkError" or "Aborted". */
  code: string;
  /** The HTTP status, when there was an answer. */
  status?: number;
  /** The refusal as gatepost or the store worded it. */
  detail?: string;
  /** Seconds to wait before asking again (429). */
  retryAfter?: number;
  /** Why verification rejected the file, in words (source "verification"). */
  reasons: string[];
}

/** Upload progress over the whole file. */
export interface Progress {
  loaded: number;
  total: number;
  /** loaded / total, 0 to 1. */
  fraction: number;
}

/** Where upload tokens are kept for resuming (localStorage has this shape). */
export interface TokenStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** What every call takes. */
export interface Options {
  /** The profile (gatepost's "default" when left out). */
  profile?: string;
  /** A bearer token: an API key or a JWT. */
  token?: string;
  /** gatepost's base URL ("" for the page's own origin). */
  endpoint?: string;
  /** The key under the caller's prefix (the file's name when left out). */
  key?: string;
  /** The Content-Type (the file's type when left out). */
  contentType?: string;
  /** x-amz-meta-* values the profile allows. */
  metadata?: Record<string, string>;
  /** Cancels the upload. */
  signal?: AbortSignal;
  /** Called as bytes go up. */
  onProgress?: (progress: Progress) => void;
}

/** What uploadLargeFile takes besides. */
export interface LargeFileOptions extends Options {
  /** Parts uploaded at once (default 4). */
  concurrency?: number;
  /** Keep the upload token (true: localStorage) so that a failed or cancelled upload resumes. */
  resume?: boolean | TokenStore;
}

/** A presigned POST. */
export interface Presigned {
  url: string;
  fields: Record<string, string>;
  key: string;
  bucket: string;
  expires_at: string;
  max_content_length: string;
}

/** gatepost's verdict on an upload. */
export interface Verdict {
  /** "UPLOAD_STATE_VERIFIED" (a rejection throws an UploadError). */
  state: string;
  /** The media type the file's first bytes show, when the profile sniffs them. */
  sniffedType: string;
  reasons: string[];
}

/** A finished, verified upload. */
export interface UploadResult extends Verdict {
  key: string;
  bucket: string;
  /** The object's URL at its key. */
  location: string;
  size: number;
}

/** Asks gatepost for a presigned POST for file. */
export declare function presign(file: File, options?: Options): Promise<Presigned>;
/** Uploads file with a presigned POST, then has gatepost verify it. */
export declare function uploadFile(file: File, options?: Options): Promise<UploadResult>;
/** Uploads a file of any size as a multipart upload, then has gatepost verify it. */
export declare function uploadLargeFile(file: File, options?: LargeFileOptions): Promise<UploadResult>;
/** Asks gatepost to verify the upload at key; a rejection throws an UploadError. */
export declare function finalize(key: string, options?: Pick<Options, "profile" | "token" | "endpoint" | "signal">): Promise<Verdict>;
