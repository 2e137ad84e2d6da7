(ns babashka.pods
  "JVM stand-in for babashka's built-in `babashka.pods`: loads pods, turns
  their described namespaces into Clojure namespaces and vars, and unloads
  them (also at JVM exit)."
  (:require [babashka.pods.impl :as impl]
            [clojure.edn :as edn]))

(set! *warn-on-reflection* true)

(defonce ^:private deferred
  ;; namespace symbol -> pod that will send it on demand (load-ns op)
  (atom {}))

(defn- intern-pod-var [pod ns-sym {:strs [name meta]}]
  (let [var-sym (symbol name)
        qsym (symbol (str ns-sym) name)
        m (some-> meta edn/read-string)]
    ;; the name may shadow a clojure.core var referred into the namespace
    (ns-unmap ns-sym var-sym)
    ;; "async" vars are invoked synchronously, as babashka does
    (intern ns-sym (with-meta var-sym m)
            (fn [& args] (impl/invoke pod qsym args nil)))))

(defn- materialize!
  "Creates the namespace described by `ns-desc` (as if by `ns`, so it can be
  required) and its vars: client-side code is evaluated in the namespace, the
  rest become functions that invoke the pod."
  [pod {:strs [name vars]}]
  (let [ns-sym (symbol name)]
    (binding [*ns* *ns*]
      (eval (list 'clojure.core/ns ns-sym)))
    (doseq [{:strs [code] :as v} vars]
      (if code
        (binding [*ns* (the-ns ns-sym)] (load-string code))
        (intern-pod-var pod ns-sym v)))))

(defn- lib-of [^String path]
  (-> path (.replaceFirst "^/" "") (.replace \/ \.) (.replace \_ \-) symbol))

(defonce ^:private install-load-hook
  ;; `require` of a deferred pod namespace asks the pod for it (load-ns)
  (delay
    (alter-var-root
     #'clojure.core/load
     (fn [core-load]
       (fn [& paths]
         (doseq [path paths]
           (let [lib (lib-of path)
                 [old _] (swap-vals! deferred dissoc lib)]
             (if-let [pod (get old lib)]
               (materialize! pod (impl/load-ns pod lib))
               (core-load path)))))))))

(defn load-pod
  "Starts a pod and creates its namespaces. `pod-spec`: the executable (a
  string) or a command vector. opts: `:transport :socket` to talk over a
  local socket (the pod shares the terminal), default stdio.
  Returns `{:pod/id id}`, the id being the first namespace's name."
  ([pod-spec] (load-pod pod-spec nil))
  ([pod-spec opts]
   (let [cmd (if (string? pod-spec) [pod-spec] (mapv str pod-spec))
         pod (impl/start-pod! cmd (assoc opts :out *out* :err *err*))
         lazy? (fn [ns-desc] (and (contains? (:ops pod) "load-ns")
                                  (= "true" (get ns-desc "defer"))))]
     (impl/start-reader! pod)
     (try
       (doseq [ns-desc (:namespaces pod)]
         (if (lazy? ns-desc)
           (do @install-load-hook
               (swap! deferred assoc (symbol (get ns-desc "name")) pod))
           (materialize! pod ns-desc)))
       (catch Throwable t
         (impl/unload! (:pod-id pod))
         (throw t)))
     {:pod/id (:pod-id pod)})))

(defn invoke
  "Invokes the pod var `sym` with `args` in pod `pod-id` (id string or the map
  returned by `load-pod`). Without `:handlers` in opts, returns the value or
  throws an ex-info. With `{:handlers {:success (fn [v]) :error (fn [{:keys
  [ex-message ex-data]}]) :done (fn [])}}` returns nil at once; handlers run
  on the pod's reader thread."
  ([pod-id sym args] (invoke pod-id sym args nil))
  ([pod-id sym args opts] (impl/invoke (impl/lookup pod-id) sym args opts)))

(defn unload-pod
  "Shuts the pod down (bounded wait) and removes its namespaces."
  ([pod-id] (unload-pod pod-id nil))
  ([pod-id _opts]
   (when-let [pod (impl/unload! pod-id)]
     (let [nss (set (map #(symbol (get % "name")) (:namespaces pod)))]
       (swap! deferred #(apply dissoc % nss))
       (doseq [n nss] (remove-ns n))
       (dosync (commute @#'clojure.core/*loaded-libs* #(reduce disj % nss)))))
   nil))

(defn unload-all
  "Unloads every loaded pod."
  []
  (doseq [id (keys @impl/pods)] (unload-pod id)))

(defonce ^:private shutdown-hook
  (.addShutdownHook (Runtime/getRuntime)
                    (Thread. ^Runnable (fn []
                                         (unload-all)
                                         (.flush ^java.io.Writer *out*)
                                         (.flush ^java.io.Writer *err*))
                             "babashka.pods/shutdown")))
