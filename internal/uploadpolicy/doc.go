// Package uploadpolicy describes what a presigned upload allows, as decided
// by gatepost for one request, and turns a POST decision into its policy
// document and the form fields a client must send with it (Post.Document),
// each condition and its field written together; the store adapter only
// signs the document.
//
// Everything the policy pins is also returned as a form field: S3 rejects a
// form whose fields do not match the policy, and a form with a field the
// policy does not cover, so a client that sends exactly the returned fields
// and the file succeeds and anything else fails.
package uploadpolicy
