// Module customization hooks (node:module register) for record-modules.mjs: posts every resolved
// module URL to the port it was given.
let port;

export function initialize(data) {
  port = data.port;
}

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  port.postMessage(r.url);
  return r;
}
