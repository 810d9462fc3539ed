// Loaded with `node --import ./infra/workflows/polyfill.mjs` before aws-local-stepfunctions.
//
// aws-local-stepfunctions 3.0.0 declares Node >= 22 and uses one Node 22 API,
// Promise.withResolvers (ES2024), in its Task state (the task timeout). This machine and
// CI have Node 20, so the harness adds exactly that API, as the specification defines it,
// when it is missing; the engine's own code is left untouched. On Node >= 22 this file
// does nothing.
if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
