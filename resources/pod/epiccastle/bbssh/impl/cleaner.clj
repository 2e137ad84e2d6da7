(ns pod.epiccastle.bbssh.impl.cleaner
  "Frees pod objects whose handles the script no longer holds. Not needed
  unless you extend bbssh.

  A handle is a keyword such as `:bbssh/channel-exec-4`. Every handle the
  pod hands out is passed through `register`, which registers the keyword
  with a `java.lang.ref.Cleaner`. When babashka garbage-collects the
  keyword, the cleaner tells the pod (`registry/unref`), and the pod frees
  the object once nothing else uses it: a session keeps serving its
  forwards and commands, a channel keeps its streams, and a call in flight
  keeps its arguments."
  (:require [pod.epiccastle.bbssh.pod.registry :as registry])
  (:import [java.lang.ref Cleaner]))

(def cleaner
  "The `java.lang.ref.Cleaner` that watches handles."
  (Cleaner/create))

(def ^:private dropped
  "Names of handles collected since the last report to the pod."
  (atom []))

(defn- report-dropped!
  "Sends the names collected so far to the pod in one call."
  []
  (let [[names] (swap-vals! dropped (constantly []))]
    (when (seq names)
      (try (registry/unref names)
           ;; the pod may be gone (unloaded at exit): nothing to free
           (catch Throwable _ nil)))))

(defn split-key
  "The `[namespace name]` of a handle, as bbssh 0.6's handle vectors.

    (split-key :bbssh/session-1) ;; => [\"bbssh\" \"session-1\"]"
  [k]
  [(namespace k) (name k)])

(defn register
  "Registers handle `h` (a keyword the pod returned) for freeing once the
  script drops it, and returns it. Call it once for every handle the pod
  returns, also when it returns the same handle again: the pod counts the
  handles it hands out. Non-keywords (nil) are returned as they are.

    (register (pod-call ...)) ;; => :bbssh/input-stream-7"
  [h]
  (when (keyword? h)
    ;; The action must not hold the keyword, or it would never be
    ;; collected: it keeps the name only.
    (let [n (str (namespace h) "/" (name h))]
      (.register ^Cleaner cleaner h
                 (fn []
                   (try
                     (when (= 1 (count (swap! dropped conj n)))
                       (future (report-dropped!)))
                     (catch Throwable _ nil))))))
  h)
