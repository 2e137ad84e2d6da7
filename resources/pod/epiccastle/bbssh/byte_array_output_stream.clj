(ns pod.epiccastle.bbssh.byte-array-output-stream
  "A java.io.ByteArrayOutputStream held by the pod (bbssh 0.6): collects
  what a channel writes, inside the pod, to be read at the end. A stream is
  a handle such as `:bbssh/byte-array-output-stream-5`.

    (def out (byte-array-output-stream/new))
    (channel-exec/set-output-stream ch out)
    ;; ... connect, wait ...
    (byte-array-output-stream/to-string out)"
  (:require [pod.epiccastle.bbssh.impl.cleaner :as cleaner]
            [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.pod.byte-array-output-stream :as pod-baout]))

(defn new
  "Makes an empty stream; `size` is a capacity hint.

    (byte-array-output-stream/new)"
  ([] (cleaner/register (pod-baout/new)))
  ([size] (cleaner/register (pod-baout/new size))))

(defn close
  "Has no effect, as closing a ByteArrayOutputStream in Java.

    (byte-array-output-stream/close out)"
  [stream]
  (pod-baout/close stream)
  nil)

(defn reset
  "Empties the stream.

    (byte-array-output-stream/reset out)"
  [stream]
  (pod-baout/reset stream)
  nil)

(defn size
  "How many bytes the stream holds.

    (byte-array-output-stream/size out) ;; => 12"
  [stream]
  (pod-baout/size stream))

(defn to-byte-array
  "The contents as a byte array.

    (byte-array-output-stream/to-byte-array out)"
  [stream]
  (utils/decode-base64 (pod-baout/to-byte-array stream)))

(defn to-string
  "The contents as a string, decoded as UTF-8 or `encoding`.

    (byte-array-output-stream/to-string out) ;; => \"hello\\n\"
    (byte-array-output-stream/to-string out \"ISO-8859-1\")"
  ([stream]
   (pod-baout/to-string stream))
  ([stream encoding]
   (String. ^bytes (to-byte-array stream) ^String (utils/check-charset "the encoding" encoding))))

(defn write
  "`(write stream byte)` appends one byte (an int);
  `(write stream bytes offset length)` appends `length` bytes of `bytes`
  from `offset`.

    (byte-array-output-stream/write out 65)
    (byte-array-output-stream/write out (.getBytes \"hi\") 0 2)"
  ([stream byte]
   (if (bytes? byte)
     (write stream byte 0 (alength ^bytes byte))
     (pod-baout/write stream (int byte)))
   nil)
  ([stream bytes offset length]
   (when (pos? length)
     (pod-baout/write stream (utils/encode-base64
                              (java.util.Arrays/copyOfRange ^bytes bytes (int offset) (int (+ offset length))))))
   nil))

(defn write-to
  "Writes the whole contents to another pod output stream.

    (byte-array-output-stream/write-to out pipe-out)"
  [stream out]
  (pod-baout/write-to stream out)
  nil)
