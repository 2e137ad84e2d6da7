(ns pod.epiccastle.bbssh.output-stream
  "Output streams held by the pod (bbssh 0.6): the writing end of a pipe
  (java.io.PipedOutputStream), a channel's stdin
  (`channel-exec/get-output-stream`), or a stream whose methods are
  functions of the script (`new-pod-proxy`). A stream is a handle such as
  `:bbssh/output-stream-4`; the functions here work on any pod output
  stream, also a byte-array-output-stream.

    (def stdin (channel-exec/get-output-stream ch))
    (with-open [w (clojure.java.io/writer (output-stream/make-proxy stdin))]
      (.write w \"hello\\n\"))"
  (:refer-clojure :exclude [flush])
  (:require [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.invoker :as invoker]
            [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.pod.output-stream :as pod-out]))

(ns-unmap *ns* 'flush)

(defn new
  "Makes the writing end of a pipe, connected to `sink` (an input-stream)
  when given.

    (output-stream/new)
    (output-stream/new in)"
  ([] (cleaner/register (pod-out/new)))
  ([sink] (cleaner/register (pod-out/new sink))))

(defn close
  "Closes the stream: a pipe's reader reads what is left, then the end;
  a channel's stdin sends end of file.

    (output-stream/close out)"
  [stream]
  (pod-out/close stream)
  nil)

(defn write
  "`(write stream byte)` writes one byte (an int).
  `(write stream bytes offset length)` writes `length` bytes of `bytes`
  from `offset`. Blocks while a pipe is full.

    (output-stream/write out 65)
    (output-stream/write out (.getBytes \"hello\") 0 5)"
  ([stream byte]
   (if (bytes? byte)
     (write stream byte 0 (alength ^bytes byte))
     (pod-out/write stream (int byte)))
   nil)
  ([stream byte-array offset length]
   (when (pos? length)
     (pod-out/write stream (utils/encode-base64
                            (java.util.Arrays/copyOfRange ^bytes byte-array (int offset) (int (+ offset length))))))
   nil))

(defn connect
  "Connects this pipe's writing end to `sink`, a pipe's reading end
  (`input-stream/new`).

    (output-stream/connect out in)"
  [stream sink]
  (pod-out/connect stream sink)
  nil)

(defn flush
  "Flushes the stream.

    (output-stream/flush out)"
  [stream]
  (pod-out/flush stream)
  nil)

(defn make-proxy
  "A java.io.PipedOutputStream in babashka whose bytes go into the pod
  stream over a loopback data channel (no per-write round trip), for
  `io/copy`, writers and the like. `flush` returns once the bytes are in
  the pod stream; `close` closes the pod stream after the last byte and
  throws if any byte could not be written.

    (with-open [o (output-stream/make-proxy (channel-exec/get-output-stream ch))]
      (clojure.java.io/copy (clojure.java.io/file \"big.iso\") o))"
  [stream]
  (let [sock (utils/data-channel (pod-out/channel stream))
        out (.getOutputStream sock)
        sent (atom 0)
        closed (atom false)]
    (proxy [java.io.PipedOutputStream] []
      (write
        ([b]
         (if (bytes? b)
           (do (.write out ^bytes b) (swap! sent + (alength ^bytes b)))
           (do (.write out (int b)) (swap! sent inc))))
        ([bs off len]
         (.write out ^bytes bs (int off) (int len))
         (swap! sent + len)))
      (flush []
        (.flush out)
        (pod-out/channel-sync stream @sent))
      (close []
        (when (compare-and-set! closed false true)
          (.flush out)
          (.shutdownOutput sock)
          ;; the pod closes its end once every byte is in the stream and
          ;; the stream is closed; a reset means some could not be
          (try
            (let [in (.getInputStream sock)]
              (while (not (neg? (.read in)))))
            (catch java.io.IOException e
              (throw (ex-info (str "writing into pod stream " stream " failed: " (ex-message e))
                              {:type :bbssh/io-error} e)))
            (finally (.close sock))))))))

(defn- preprocess-args
  "Hands :write's bytes to the script's function as a byte array (a
  single byte stays an int)."
  [method args]
  (if (and (= :write method) (string? (first args)))
    [(utils/decode-base64 (first args))]
    args))

(defn new-pod-proxy
  "Makes a pod output stream whose methods are functions of the script,
  for a channel to write to. Keys of `callbacks` (all optional):
  `:write` `(fn [byte-or-bytes])` (an int for one byte, else a byte array),
  `:flush` `(fn [])`, `:close` `(fn [])`. A function that throws fails the
  write with `:bbssh/io-error`.

    (def got (java.io.ByteArrayOutputStream.))
    (output-stream/new-pod-proxy
      {:write (fn [b] (if (bytes? b) (.write got ^bytes b) (.write got (int b))))})"
  [callbacks]
  (utils/check-map "the callbacks of new-pod-proxy" callbacks)
  (invoker/new-invoker {:call-sym 'pod.epiccastle.bbssh.pod.output-stream/new-pod-proxy
                        :callbacks callbacks
                        :preprocess-args-fn preprocess-args}))
