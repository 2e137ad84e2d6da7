(ns pod.epiccastle.bbssh.impl.callbacks
  "Pod objects whose methods are functions of the script (identity/new,
  identity-repository/new, host-key-repository/new, config/new,
  config-repository/new). Not part of the public API."
  (:require [babashka.pods :as pods]
            [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.pod.callbacks :as callbacks]))

(defn- answer
  "Runs (f args) on its own thread (never the pod reader's) and sends its
  result through `post`, or its error, back to the pod, so that the pod
  never waits for ever on a function that threw."
  [f id args post]
  (future
    (try
      (callbacks/return-result id (post (apply f args)))
      (catch Throwable e
        (try (callbacks/return-error id (str (or (ex-message e) (type e))))
             (catch Exception _ nil))))))

(defn new-object
  "Creates a pod object with the pod var `sym`, whose methods are the
  functions of the map `callbacks` (keys among `known`; a missing method
  answers nil). `pre` maps a method to a function of its argument vector
  (e.g. decoding base64), `post` to a function of its result (e.g.
  encoding bytes), `wrap` to a function of the script's function. Returns
  the handle, registered with the cleaner: the object is freed once the
  script drops it and nothing in the pod uses it.

    (new-object 'pod.epiccastle.bbssh.pod.config/new \"config\" #{:get-port}
                {:get-port (fn [] 2222)} {})"
  [sym what known callbacks {:keys [pre post wrap]}]
  (when-not (or (nil? callbacks) (map? callbacks))
    (throw (ex-info (str what " callbacks must be a map of keyword to function, got "
                         (if (string? callbacks) "a string" (type callbacks)))
                    {:type :bbssh/bad-option})))
  (when-let [unknown (seq (remove known (keys callbacks)))]
    (throw (ex-info (str "unknown " what " callbacks: " (pr-str unknown) " (known: " (pr-str (sort known)) ")")
                    {:type :bbssh/bad-option :callbacks (vec unknown)})))
  (when-let [bad (seq (remove (comp ifn? val) callbacks))]
    (throw (ex-info (str what " callback " (key (first bad)) " is not a function")
                    {:type :bbssh/bad-option})))
  ;; A queue rather than a promise: the handlers live as long as the
  ;; object, and a promise they close over would keep the handle's keyword
  ;; alive for ever, so it could never be freed (as impl.invoker).
  (let [result (java.util.concurrent.LinkedBlockingQueue.)
        fns (into {} (map (fn [[k f]] [k ((get wrap k identity) f)])) callbacks)]
    (pods/invoke "pod.epiccastle.bbssh" sym [(vec (keys callbacks))]
                 {:handlers {:success (fn [{:keys [method id args] :as msg}]
                                        (if (contains? msg :result)
                                          (.put result [(:result msg)])
                                          (answer (get fns method (fn [& _] nil)) id
                                                  ((get pre method identity) (vec args))
                                                  (get post method identity))))
                             :error (fn [{:keys [ex-message ex-data]}]
                                      (.put result [(ex-info ex-message ex-data)]))
                             :done (fn [] (.offer result [nil]))}})
    (let [[r] (.take result)]
      (if (instance? Throwable r) (throw r) (cleaner/register r)))))
