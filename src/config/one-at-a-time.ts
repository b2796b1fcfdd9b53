/**
 * Makes `task` run one at a time, in order: a call while it runs gets a run that starts
 * once it ends (one run, shared by every call that comes meanwhile). For reloads: the file
 * on disk at the last request is the one that a run reads, and each answer is for the file
 * its run read. A run that fails does not stop the one after it.
 */
export function oneAtATime<T>(task: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const run = (): Promise<T> => {
    if (!running) {
      running = task().finally(() => {
        running = undefined;
      });
      return running;
    }
    const after = (): Promise<T> => {
      next = undefined;
      return run();
    };
    next ??= running.then(after, after);
    return next;
  };
  return run;
}
