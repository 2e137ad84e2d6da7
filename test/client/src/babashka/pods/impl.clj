(ns babashka.pods.impl
  "The pod protocol: bencode messages, describe, the reply loop, invoke and
  shutdown. Pods are kept in a registry keyed by pod id."
  {:no-doc true}
  (:require [babashka.pods.impl.transport :as transport]
            [clojure.edn :as edn]
            [nrepl.bencode :as bencode])
  (:import (java.io IOException OutputStream Writer)
           (java.util.concurrent TimeUnit)))

(set! *warn-on-reflection* true)

(defonce ^{:doc "Loaded pods: pod id -> pod map."} pods (atom {}))

(def ^:dynamic *describe-timeout-ms* 30000)

(declare destroy!)

(defn- next-id [] (str (java.util.UUID/randomUUID)))

(defn- decode
  "Bencode gives byte arrays for strings; turn them into UTF-8 strings."
  [x]
  (cond (bytes? x) (String. ^bytes x "UTF-8")
        (map? x) (update-vals x decode)
        (vector? x) (mapv decode x)
        :else x))

(defn- read-msg [pod] (decode (bencode/read-bencode (:in pod))))

(defn- write! [pod msg]
  (let [^OutputStream out (:out pod)]
    (locking out
      (bencode/write-bencode out msg)
      (.flush out))))

(defn- daemon [name f]
  (doto (Thread. ^Runnable f (str name)) (.setDaemon true) (.start)))

(defn- emit! [^Writer w ^String s]
  (when s (locking w (.write w s) (.flush w))))

(defn- warn! [pod & xs]
  (emit! (or (:err-writer pod) *err*) (str (apply print-str "pod" (:pod-id pod) "-" xs) "\n")))

(defn- read-payload [pod ^String s]
  (edn/read-string {:readers (:readers pod)} s))

;;; Pending requests: id -> promise (sync invoke, load-ns) or handlers map.

(defn- claim!
  "Removes request `id` and returns its promise/handlers, or nil if another
  thread got it first. Whoever claims a request completes it."
  [pod id]
  (let [[old _] (swap-vals! (:chans pod) dissoc id)]
    (get old id)))

(defn- call-handler [pod f & args]
  (when f
    (try (apply f args)
         (catch Throwable t (warn! pod "handler threw:" (pr-str t))))))

(defn- fail! [pod chan ^Throwable ex]
  (if (map? chan)
    (call-handler pod (:error chan) {:ex-message (ex-message ex) :ex-data (ex-data ex)})
    (deliver chan ex)))

(defn- closed-ex [pod]
  (ex-info (str "Pod " (:pod-id pod) " closed the connection ("
                (name @(:closed pod)) ")")
           {:type :babashka.pods/closed :pod/id (:pod-id pod)}))

(defn- close-pending!
  "Marks the pod closed and fails every pending request: nothing waits on a
  pod that is gone."
  [pod reason]
  (compare-and-set! (:closed pod) nil reason)
  (let [[old _] (reset-vals! (:chans pod) {})
        ex (closed-ex pod)]
    (doseq [chan (vals old)] (fail! pod chan ex))))

(defn- handle-reply [pod {:strs [id status out err] :as msg}]
  (emit! (:out-writer pod) out)
  (emit! (:err-writer pod) err)
  (when-let [chan (get @(:chans pod) id)]
    (let [status (set (if (string? status) [status] status))
          error? (contains? status "error")
          done? (or error? (contains? status "done"))
          [value ex] (try [(some->> (get msg "value") (read-payload pod))]
                          (catch Exception e
                            [nil (ex-info (str "Cannot read value from pod: " (ex-message e))
                                          {:type :babashka.pods/bad-payload
                                           :value (get msg "value")} e)]))
          ex (or ex
                 (when error?
                   (ex-info (or (get msg "ex-message") "")
                            (let [raw (get msg "ex-data")
                                  d (try (some->> raw (read-payload pod))
                                         (catch Exception _ {:unreadable-ex-data raw}))]
                              (if (map? d) d {})))))]
      (if (map? chan)
        (do (when (or done? ex) (claim! pod id))
            (cond ex (fail! pod chan ex)
                  (contains? msg "value") (call-handler pod (:success chan) value))
            (when (and done? (not ex)) (call-handler pod (:done chan))))
        (when (or done? ex (contains? msg "value") (contains? msg "vars"))
          (claim! pod id)
          (deliver chan (cond ex ex
                              (contains? msg "vars") msg
                              :else value)))))))

(defn- reader-loop [pod]
  (loop []
    (let [msg (try (read-msg pod)
                   (catch IOException _ ::eof)
                   (catch Exception e
                     (warn! pod "cannot decode message:" (pr-str e))
                     ::eof))]
      (if (= ::eof msg)
        (close-pending! pod :eof)
        (do (try (handle-reply pod msg)
                 (catch Throwable t (warn! pod "error handling reply:" (pr-str t))))
            (recur))))))

(defn start-reader!
  "Starts the daemon thread that dispatches the pod's replies."
  [pod]
  (daemon (str "pod-reader-" (:pod-id pod)) #(reader-loop pod)))

(defn- request!
  "Sends `msg` with a fresh id, registered to `chan`. Failures to send, or a
  pod already closed, complete `chan` with an exception."
  [pod msg chan]
  (let [id (next-id)]
    (swap! (:chans pod) assoc id chan)
    (when-not @(:closed pod)
      (try (write! pod (assoc msg "id" id))
           (catch IOException e
             (when-let [c (and (not @(:closed pod)) (claim! pod id))]
               (fail! pod c (ex-info (str "Cannot send to pod " (:pod-id pod) ": " (ex-message e))
                                     {:type :babashka.pods/closed :pod/id (:pod-id pod)} e))))))
    (when @(:closed pod)
      (when-let [c (claim! pod id)] (fail! pod c (closed-ex pod))))
    chan))

(defn- await! [p]
  (let [v @p]
    (if (instance? Throwable v) (throw v) v)))

(defn invoke
  "Invokes pod var `sym` with `args`. Without `:handlers` blocks and returns
  the value or throws; with handlers returns nil at once."
  [pod sym args {:keys [handlers]}]
  (let [chan (request! pod {"op" "invoke" "var" (str sym) "args" (pr-str (vec args))}
                       (or handlers (promise)))]
    (when-not handlers (await! chan))))

(defn load-ns
  "Asks the pod for deferred namespace `ns-sym`; returns the reply with its
  \"name\" and \"vars\"."
  [pod ns-sym]
  (await! (request! pod {"op" "load-ns" "ns" (str ns-sym)} (promise))))

(defn- resolve-reader [sym]
  (or (resolve sym)
      (try (requiring-resolve sym) (catch Exception _ nil))
      ;; defined later by the pod's client side code
      (intern (create-ns (symbol (namespace sym))) (symbol (name sym)))))

(defn- closed-early [{:keys [^Process process]} ^Throwable cause]
  (let [exit (when (.waitFor process 1 TimeUnit/SECONDS) (.exitValue process))]
    (ex-info (str "Pod closed before replying to describe"
                  (when exit (str " (exit code " exit ")")) ": " (ex-message cause))
             {:type :babashka.pods/closed :exit exit} cause)))

(defn- describe! [pod]
  (let [p (promise)]
    (try (write! pod {"op" "describe" "id" (next-id)})
         (catch IOException e (throw (closed-early pod e))))
    (daemon "pod-describe" #(deliver p (try (read-msg pod) (catch Throwable t t))))
    (let [r (deref p *describe-timeout-ms* ::timeout)]
      (cond (map? r) r
            (= ::timeout r) (throw (ex-info "Pod did not reply to describe in time"
                                            {:type ::timeout :timeout-ms *describe-timeout-ms*}))
            :else (throw (closed-early pod r))))))

(defn start-pod!
  "Starts the pod `cmd` (vector of strings), describes it and registers it.
  opts: `:transport`, `:out`/`:err` writers for the pod's out/err messages.
  Returns the pod map; its reader thread is not started yet."
  [cmd {:keys [out err] :as opts}]
  (let [conn (transport/start cmd opts)]
    (try
      (let [reply (describe! conn)
            format (get reply "format" "edn")
            _ (when-not (= "edn" format)
                (throw (ex-info (str "Unsupported pod format: " format " (only edn)")
                                {:type ::unsupported-format :format format})))
            namespaces (get reply "namespaces")
            pod (assoc conn
                       :pod-id (or (get (first namespaces) "name") (next-id))
                       :cmd cmd
                       :ops (set (keys (get reply "ops")))
                       :readers (update-keys (update-vals (get reply "readers") (comp resolve-reader symbol))
                                             symbol)
                       :namespaces namespaces
                       :chans (atom {})
                       :closed (atom nil)
                       :out-writer out
                       :err-writer err)]
        ;; a pod loaded again under the same id replaces the old process
        (when-let [stale (get (first (swap-vals! pods assoc (:pod-id pod) pod)) (:pod-id pod))]
          (destroy! stale))
        pod)
      (catch Throwable t
        (.destroyForcibly ^Process (:process conn))
        (transport/close conn)
        (throw t)))))

(defn lookup
  "The pod for a pod id string or a `{:pod/id ...}` map; throws if none."
  [pod-id]
  (let [id (if (map? pod-id) (:pod/id pod-id) pod-id)]
    (or (get @pods id)
        (throw (ex-info (str "No pod loaded with id " (pr-str id))
                        {:type ::unknown-pod :pod/id id})))))

(defn- wait-for [^Process p ms] (.waitFor p ms TimeUnit/MILLISECONDS))

(defn destroy!
  "Sends shutdown if the pod supports it and waits (bounded) for the process
  to exit, else terminates it; then closes the connection."
  [pod]
  (let [^Process p (:process pod)]
    (compare-and-set! (:closed pod) nil :unloaded)
    (if (and (contains? (:ops pod) "shutdown") (.isAlive p))
      (try (write! pod {"op" "shutdown" "id" (next-id)}) (catch IOException _ nil))
      (.destroy p))
    (when-not (wait-for p 5000)
      (warn! pod "did not exit in time, terminating")
      (.destroy p)
      (when-not (wait-for p 2000) (.destroyForcibly p) (wait-for p 2000)))
    (transport/close pod)))

(defn unload!
  "Unregisters and destroys the pod with `pod-id`. Returns the pod, or nil if
  it was not loaded."
  [pod-id]
  (let [id (if (map? pod-id) (:pod/id pod-id) pod-id)
        [old _] (swap-vals! pods dissoc id)]
    (when-let [pod (get old id)]
      (destroy! pod)
      pod)))
