// Types of gatepost-uppy.js: gatepost as Uppy's uploader.

import type { UploadResult, TokenStore } from "./gatepost.js";

/** A file as Uppy hands it to an uploader (the fields gatepost uses). */
export interface UppyFileLike {
  id: string;
  name?: string;
  type?: string;
  size: number | null;
  data: Blob;
}

/** Options of the plugin (the second argument of uppy.use). */
export interface GatepostUploaderOptions {
  /** gatepost's URL ("" for the page's origin). */
  endpoint?: string;
  /** A bearer token (API key or JWT), or a function giving one. */
  token?: string | (() => string | Promise<string>);
  /** The upload profile; gatepost's default when absent. */
  profile?: string;
  /** The key to ask for (default: the file's name). */
  key?: (file: UppyFileLike) => string;
  /** User metadata for the profile's metadata names. */
  metadata?: (file: UppyFileLike) => Record<string, string>;
  /** Files over this many bytes go multipart (default 100 MiB). */
  multipartThreshold?: number;
  /** Parts in flight at once (default 4). */
  concurrency?: number;
  /** Keep multipart upload tokens to resume (see uploadLargeFile). */
  resume?: boolean | TokenStore;
  /** The plugin id (default "GatepostUploader"). */
  id?: string;
}

/** The result Uppy receives as each upload's response body. */
export type GatepostUploadBody = UploadResult;

/**
 * Returns the Uppy uploader plugin class built on BasePlugin (from your
 * @uppy/core 5 or 6): `uppy.use(gatepostUploader(BasePlugin), options)`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export declare function gatepostUploader<P extends abstract new (...args: any[]) => any>(BasePlugin: P): P;
