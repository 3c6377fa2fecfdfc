// Test-only: Electron's utility-process `process.parentPort`, emulated over Node's
// child-process IPC channel, so engine-process.ts runs under plain Node (--require this).
process.parentPort = {
  on(event, listener) {
    if (event === 'message') process.on('message', (data) => listener({ data }));
  },
  postMessage(message) {
    process.send(message);
  },
};
