(ns pod.epiccastle.bbssh.impl.invoker
  "Pod objects whose methods are functions of the script (the streams of
  `input-stream/new-pod-proxy` and `output-stream/new-pod-proxy`, and
  through impl.callbacks the identities, repositories and configs
  implemented in bb). Not needed unless you extend bbssh."
  (:require [babashka.pods :as pods]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.pod.callbacks :as callbacks]))

(defn- answer
  "Runs the script's function on its own thread (never the pod reader's)
  and sends its result, or its error, back to the pod."
  [f id method args preprocess postprocess]
  (future
    (try
      (callbacks/return-result id (postprocess method (apply f (preprocess method args))))
      (catch Throwable e
        (try (callbacks/return-error id (str (or (ex-message e) (type e))))
             (catch Exception _ nil))))))

(defn new-invoker
  "Makes a pod object with `call-sym` (a streaming pod var taking the
  vector of method names) whose methods call the fns of the `callbacks`
  map; returns its handle, registered with the cleaner. The pod sends
  `{:method :id :args}`; `preprocess-args-fn` and `postprocess-returns-fn`
  (each `(fn [method x])`) convert the arguments and the result."
  [{:keys [call-sym callbacks preprocess-args-fn postprocess-returns-fn]
    :or {preprocess-args-fn (fn [_ args] args)
         postprocess-returns-fn (fn [_ v] v)}}]
  ;; A queue rather than a promise: the handlers live as long as the
  ;; object, and a promise they close over would keep the handle's keyword
  ;; alive for ever, so it could never be freed.
  (let [result (java.util.concurrent.LinkedBlockingQueue.)]
    (pods/invoke "pod.epiccastle.bbssh"
                 call-sym
                 [(vec (keys callbacks))]
                 {:handlers {:success (fn [{:keys [method id args] :as msg}]
                                        (if (contains? msg :result)
                                          (.put result [(:result msg)])
                                          (answer (get callbacks method (fn [& _] nil)) id method args
                                                  preprocess-args-fn postprocess-returns-fn)))
                             :error (fn [{:keys [ex-message ex-data]}]
                                      (.put result [(ex-info ex-message ex-data)]))
                             :done (fn [] (.offer result [nil]))}})
    (let [[r] (.take result)]
      (if (instance? Throwable r) (throw r) (cleaner/register r)))))
