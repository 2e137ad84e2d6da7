(ns pod.epiccastle.bbssh.input-stream
  "Input streams held by the pod (bbssh 0.6): the reading end of a pipe
  (java.io.PipedInputStream), a channel's output (`channel-exec/get-input-stream`),
  or a stream whose methods are functions of the script (`new-pod-proxy`).
  A stream is a handle such as `:bbssh/input-stream-3`; the functions here
  work on any pod input stream, also a byte-array-input-stream.

    (def out (output-stream/new))
    (def in (input-stream/new out))
    (output-stream/write out (.getBytes \"hi\") 0 2)
    (output-stream/close out)
    (slurp (input-stream/make-proxy in)) ;; => \"hi\""
  (:refer-clojure :exclude [read])
  (:require [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.invoker :as invoker]
            [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.pod.input-stream :as pod-in]))

;; The pod client may have made this namespace referring clojure.core/read
;; before this code ran; :exclude alone does not take it back.
(ns-unmap *ns* 'read)

(defn new
  "Makes the reading end of a pipe, connected to `source` (an
  output-stream) when given. `pipe-size` is its buffer [65536 bytes]; a
  writer blocks while it is full.

    (input-stream/new)
    (input-stream/new 1024)
    (input-stream/new out)
    (input-stream/new out 1024)"
  ([] (cleaner/register (pod-in/new)))
  ([src-or-pipe-size] (cleaner/register (pod-in/new src-or-pipe-size)))
  ([src pipe-size] (cleaner/register (pod-in/new src pipe-size))))

(defn close
  "Closes the stream.

    (input-stream/close in)"
  [stream]
  (pod-in/close stream)
  nil)

(defn read
  "`(read stream)` reads one byte: an int 0-255, or -1 at the end.
  `(read stream bytes)` / `(read stream bytes offset length)` read up to
  `length` bytes into `bytes` and return how many, or -1 at the end.
  Each blocks until there is at least one byte or the end.

    (input-stream/read in) ;; => 104
    (input-stream/read in buf 0 8192) ;; => 1"
  ([stream]
   (pod-in/read stream))
  ([stream bytes]
   (read stream bytes 0 (alength ^bytes bytes)))
  ([stream bytes offset length]
   (let [[n b64] (pod-in/read stream length)]
     (when (pos? n)
       (System/arraycopy (utils/decode-base64 b64) 0 bytes offset n))
     n)))

(defn available
  "How many bytes can be read without blocking.

    (input-stream/available in) ;; => 2"
  [stream]
  (pod-in/available stream))

(defn connect
  "Connects this pipe's reading end to `source`, a pipe's writing end
  (`output-stream/new`).

    (input-stream/connect in out)"
  [stream source]
  (pod-in/connect stream source)
  nil)

(defn make-proxy
  "A java.io.PipedInputStream in babashka whose bytes come from the pod
  stream, over a loopback data channel (no per-read round trip), for
  `slurp`, `io/copy`, readers and the like. Read through the proxy only
  once it is made: it reads ahead. Closing it closes the pod stream.

    (slurp (input-stream/make-proxy (channel-exec/get-input-stream ch)))"
  [stream]
  (let [sock (utils/data-channel (pod-in/channel stream))
        in (.getInputStream sock)
        closed (atom false)]
    (proxy [java.io.PipedInputStream] []
      (read
        ([] (.read in))
        ([bs] (.read in ^bytes bs))
        ([bs off len] (.read in ^bytes bs (int off) (int len))))
      (available [] (.available in))
      (skip [n] (.skip in (long n)))
      (close []
        (when (compare-and-set! closed false true)
          (.close sock)
          ;; the stream handle lives as long as the proxy
          (close stream))))))

(defn- preprocess-args [_ args] args)

(defn- postprocess-returns
  "Turns what :read returns into what the pod reads: an int for a single
  byte, [count base64] for an array."
  [method value]
  (if (and (= :read method) (sequential? value))
    (let [[n bs] value]
      [n (when (and bs (pos? n)) (utils/encode-base64 (utils/sub-bytes bs n)))])
    value))

(defn new-pod-proxy
  "Makes a pod input stream whose methods are functions of the script,
  for a channel to read from. Keys of `callbacks` (all optional):
  `:read` `(fn ([] byte-or--1) ([len] [count bytes]))` (count -1 at the
  end), `:available` `(fn [])`, `:close` `(fn [])`, `:mark` `(fn [limit])`,
  `:mark-supported` `(fn [])`, `:reset` `(fn [])`, `:skip` `(fn [n])`.
  A function that throws fails the read with `:bbssh/io-error`.

    (def src (java.io.ByteArrayInputStream. (.getBytes \"data\")))
    (input-stream/new-pod-proxy
      {:read (fn ([] (.read src))
                 ([len] (let [b (byte-array len) n (.read src b)] [n b])))})"
  [callbacks]
  (utils/check-map "the callbacks of new-pod-proxy" callbacks)
  (invoker/new-invoker {:call-sym 'pod.epiccastle.bbssh.pod.input-stream/new-pod-proxy
                        :callbacks callbacks
                        :preprocess-args-fn preprocess-args
                        :postprocess-returns-fn postprocess-returns}))
