(ns pod.epiccastle.bbssh.byte-array-input-stream
  "A java.io.ByteArrayInputStream held by the pod (bbssh 0.6): bytes to
  feed a channel's stdin, read back with mark and reset. A stream is a
  handle such as `:bbssh/byte-array-input-stream-2`.

    (channel-exec/set-input-stream ch (byte-array-input-stream/new \"b\\na\\n\"))"
  (:refer-clojure :exclude [read])
  (:require [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.pod.byte-array-input-stream :as pod-bain]))

(ns-unmap *ns* 'read)

(defn new
  "Makes a stream of a string's bytes (in `encoding` [UTF-8]) or of a byte
  array.

    (byte-array-input-stream/new \"hello\")
    (byte-array-input-stream/new \"hello\" \"UTF-16\")
    (byte-array-input-stream/new (byte-array [1 2 3]))"
  [string-or-bytes & [encoding]]
  (cleaner/register
   (cond
     (and (string? string-or-bytes) (nil? encoding))
     (pod-bain/new-from-string string-or-bytes)

     (string? string-or-bytes)
     (pod-bain/new-from-bytes
      (utils/encode-base64
       (.getBytes ^String string-or-bytes ^String (utils/check-charset "the encoding" encoding))))

     (bytes? string-or-bytes)
     (pod-bain/new-from-bytes (utils/encode-base64 string-or-bytes))

     :else
     (utils/bad-option "byte-array-input-stream/new wants a string or a byte array, got "
                       (utils/describe string-or-bytes)))))

(defn available
  "How many bytes are left to read (or skip).

    (byte-array-input-stream/available s) ;; => 5"
  [stream]
  (pod-bain/available stream))

(defn close
  "Has no effect, as closing a ByteArrayInputStream in Java.

    (byte-array-input-stream/close s)"
  [stream]
  (pod-bain/close stream)
  nil)

(defn mark
  "Marks the current position for `reset`; the limit does not matter.

    (byte-array-input-stream/mark s 0)"
  [stream read-ahead-limit]
  (pod-bain/mark stream read-ahead-limit)
  nil)

(defn mark-supported
  "True: mark and reset work.

    (byte-array-input-stream/mark-supported s) ;; => true"
  [stream]
  (true? (pod-bain/mark-supported stream)))

(defn read
  "`(read stream)` reads one byte (0-255, -1 at the end);
  `(read stream bytes)` / `(read stream bytes offset length)` read up to
  `length` bytes into `bytes` and return how many, or -1 at the end.

    (byte-array-input-stream/read s) ;; => 104
    (byte-array-input-stream/read s buf 0 4) ;; => 4"
  ([stream]
   (pod-bain/read stream))
  ([stream bytes]
   (read stream bytes 0 (alength ^bytes bytes)))
  ([stream bytes offset length]
   (let [[n b64] (pod-bain/read stream length)]
     (when (pos? n)
       (System/arraycopy (utils/decode-base64 b64) 0 bytes offset n))
     n)))

(defn reset
  "Goes back to the mark (the start when none was set).

    (byte-array-input-stream/reset s)"
  [stream]
  (pod-bain/reset stream)
  nil)

(defn skip
  "Skips up to `n` bytes; returns how many were skipped.

    (byte-array-input-stream/skip s 2) ;; => 2"
  [stream n]
  (pod-bain/skip stream n))
