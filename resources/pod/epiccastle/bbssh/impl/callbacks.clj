(ns pod.epiccastle.bbssh.impl.callbacks
  "Pod objects whose methods are functions of the script (identity/new,
  identity-repository/new, host-key-repository/new, config/new,
  config-repository/new). Not part of the public API."
  (:require [pod.epiccastle.bbssh.impl.invoker :as invoker]))

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
  (let [fns (into {} (map (fn [[k f]] [k ((get wrap k identity) f)])) callbacks)]
    (invoker/new-invoker {:call-sym sym
                          :callbacks fns
                          :preprocess-args-fn (fn [method args] ((get pre method identity) (vec args)))
                          :postprocess-returns-fn (fn [method v] ((get post method identity) v))})))
