(ns pod.epiccastle.bbssh.impl.utils
  "Helpers shared by the bbssh client namespaces: bytes and base64, and
  streams backed by the pod. Not part of the public API."
  (:require [babashka.fs :as fs]
            [babashka.pods :as pods])
  (:import [java.nio.file.attribute PosixFilePermission]
           [java.util Base64]
           [java.util.concurrent LinkedBlockingQueue]))

(defn describe
  "A short rendering of x for an error message: the value when it is
  short, else its type."
  [x]
  (cond
    (and (string? x) (<= (count x) 40)) (pr-str x)
    (string? x) "a string"
    (or (nil? x) (number? x) (keyword? x) (boolean? x) (char? x)) (pr-str x)
    :else (str "a " (.getName ^Class (class x)))))

(defn bad-option
  "Throws the ex-info of a wrong option or argument value."
  [& message]
  (throw (ex-info (apply str message) {:type :bbssh/bad-option})))

(defn check-map
  "Throws a :bbssh/bad-option ex-info unless x is a map or nil; what names
  x in the message."
  [what x]
  (when-not (or (nil? x) (map? x))
    (bad-option what " must be a map, got " (describe x)))
  x)

(defn check-charset
  "Throws a :bbssh/bad-option ex-info unless enc names a character set
  this platform has; what names it in the message."
  [what enc]
  (when-not (and (string? enc)
                 (try (java.nio.charset.Charset/isSupported enc)
                      (catch IllegalArgumentException _ false)))
    (bad-option what " must name a supported character set such as \"utf-8\", got " (describe enc)))
  enc)

(defn encode-base64
  "Encodes a byte array as a base64 string."
  ^String [^bytes bs]
  (.encodeToString (Base64/getEncoder) bs))

(defn decode-base64
  "Decodes a base64 string into a byte array; nil stays nil."
  [^String s]
  (when s (.decode (Base64/getDecoder) s)))

(defn ->bytes
  "Turns a string (encoded with `encoding`) or a byte array into a byte
  array."
  [x ^String encoding]
  (cond
    (bytes? x) x
    (string? x) (.getBytes ^String x encoding)
    :else (throw (ex-info (str "expected a string or a byte array, got " (type x))
                          {:type :bbssh/bad-argument}))))

(defn sub-bytes
  "The first n bytes of bs, as a new array (bs itself when n is its length)."
  [^bytes bs n]
  (if (= n (alength bs))
    bs
    (let [out (byte-array n)]
      (System/arraycopy bs 0 out 0 n)
      out)))

(def chunk-size
  "Bytes moved per pod call by the stream pumps."
  (* 256 1024))

(defn pod-input-stream
  "A java.io.InputStream whose bytes come from `(read-fn n)`, a pod call
  that blocks until some bytes are there and returns them as base64, or nil
  at the end of the stream. `close-fn` is called once on close."
  [read-fn close-fn]
  (let [state (atom {:buf nil :pos 0 :eof false})
        fill! (fn []
                ;; Makes bytes available unless at end of stream; returns
                ;; false at end of stream.
                (let [{:keys [^bytes buf pos eof]} @state]
                  (cond
                    eof false
                    (and buf (< pos (alength buf))) true
                    :else (if-let [b64 (read-fn chunk-size)]
                            (do (reset! state {:buf (decode-base64 b64) :pos 0 :eof false}) true)
                            (do (swap! state assoc :eof true :buf nil) false)))))
        read-into (fn [^bytes dst off len]
                    (cond
                      (zero? len) 0
                      (not (fill!)) -1
                      :else (let [{:keys [^bytes buf pos]} @state
                                  n (min len (- (alength buf) pos))]
                              (System/arraycopy buf pos dst off n)
                              (swap! state update :pos + n)
                              n)))
        closed (atom false)]
    (proxy [java.io.InputStream] []
      (read
        ([]
         (let [b (byte-array 1)
               n (read-into b 0 1)]
           (if (neg? n) -1 (bit-and 0xff (aget b 0)))))
        ([bs] (read-into bs 0 (alength ^bytes bs)))
        ([bs off len] (read-into bs off len)))
      (available []
        (let [{:keys [^bytes buf pos]} @state]
          (if buf (- (alength buf) pos) 0)))
      (close []
        (when (compare-and-set! closed false true)
          (swap! state assoc :eof true :buf nil)
          (close-fn))))))

(defn pod-output-stream
  "A java.io.OutputStream whose bytes go to `(write-fn base64)`; `close-fn`
  is called once on close."
  [write-fn close-fn]
  (let [closed (atom false)]
    (proxy [java.io.OutputStream] []
      (write
        ([b]
         (if (bytes? b)
           (when (pos? (alength ^bytes b)) (write-fn (encode-base64 b)))
           (write-fn (encode-base64 (byte-array [(unchecked-byte b)])))))
        ([bs off len]
         (when (pos? len)
           (let [out (byte-array len)]
             (System/arraycopy bs off out 0 len)
             (write-fn (encode-base64 out))))))
      (flush [])
      (close []
        (when (compare-and-set! closed false true)
          (close-fn))))))

(defn data-channel
  "Connects to a pod data channel `{:port p :token t}` (a loopback socket
  that carries one stream's raw bytes) and returns the java.net.Socket."
  ^java.net.Socket [{:keys [port token]}]
  (let [sock (java.net.Socket. "127.0.0.1" (int port))
        out (.getOutputStream sock)]
    (.setTcpNoDelay sock true)
    (.write out (.getBytes (str token "\n") "UTF-8"))
    (.flush out)
    sock))

(defn copy-stream
  "Copies `in` (a java.io.InputStream) to `(write-fn bytes)` in chunks until
  the end of the stream; returns the number of bytes copied."
  [^java.io.InputStream in write-fn]
  (let [buf (byte-array chunk-size)]
    (loop [total 0]
      (let [n (.read in buf)]
        (cond
          (neg? n) total
          (zero? n) (recur total)
          :else (do (write-fn (sub-bytes buf n))
                    (recur (+ total n))))))))

(defn invoke-with-progress
  "Invokes a streaming pod var and applies progress-fn to each progress
  event on this thread, in order. Returns the final progress context;
  throws the pod's error as ex-info."
  [sym args progress-fn progress-context origin-of]
  (let [q (LinkedBlockingQueue.)]
    (pods/invoke "pod.epiccastle.bbssh" sym args
                 {:handlers {:success (fn [ev] (.put q [:progress ev]))
                             :error (fn [{:keys [ex-message ex-data]}] (.put q [:error (ex-info ex-message ex-data)]))
                             :done (fn [] (.put q [:done]))}})
    (loop [ctx progress-context]
      (let [[what x] (.take q)]
        (case what
          :progress (let [[name offset size] (:progress x)]
                      (recur (if progress-fn
                               (progress-fn ctx (merge (origin-of name) {:offset offset :size size}))
                               ctx)))
          :error (throw x)
          :done ctx)))))

(defn debug-logger
  "Starts a pod logger for a `:debug-fn` (a session's, or the agent's
  set-debug-fn) and returns its handle: each debug message becomes a call
  `(debug-fn level message)`, in order, on a thread of its own (never the
  pod reader's). A debug-fn that throws is reported on stderr once and the
  logging goes on."
  [debug-fn]
  (let [handle (promise)
        q (java.util.concurrent.LinkedBlockingQueue.)
        warned (atom false)]
    (future
      (loop []
        (let [m (.take q)]
          (when-not (= ::done m)
            (try (debug-fn (:level m) (:message m))
                 (catch Throwable e
                   (when (compare-and-set! warned false true)
                     (binding [*out* *err*]
                       (println "bbssh: the :debug-fn threw:" (or (ex-message e) (str e)))))))
            (recur)))))
    (pods/invoke "pod.epiccastle.bbssh" 'pod.epiccastle.bbssh.pod.log/new []
                 {:handlers {:success (fn [m]
                                        (if (contains? m :result)
                                          (deliver handle (:result m))
                                          (.put q m)))
                             :error (fn [{:keys [ex-message ex-data]}]
                                      (.put q ::done)
                                      (deliver handle (ex-info ex-message ex-data)))
                             :done (fn [] (.put q ::done) (deliver handle nil))}})
    (let [h @handle]
      (if (instance? Throwable h) (throw h) h))))

;; POSIX modes and files, as bbssh 0.6's impl.utils had them (its scripts
;; and test utilities call these).

(def permission->mode
  "The mode bit of each java.nio PosixFilePermission.

    (permission->mode PosixFilePermission/OWNER_READ) ;; => 0400"
  {PosixFilePermission/OWNER_READ     0400
   PosixFilePermission/OWNER_WRITE    0200
   PosixFilePermission/OWNER_EXECUTE  0100
   PosixFilePermission/GROUP_READ     0040
   PosixFilePermission/GROUP_WRITE    0020
   PosixFilePermission/GROUP_EXECUTE  0010
   PosixFilePermission/OTHERS_READ    0004
   PosixFilePermission/OTHERS_WRITE   0002
   PosixFilePermission/OTHERS_EXECUTE 0001})

(def mode->permission
  "The PosixFilePermission of each mode bit.

    (mode->permission 0400) ;; => PosixFilePermission/OWNER_READ"
  (into {} (map (fn [[perm bit]] [bit perm])) permission->mode))

(defn permission-set->mode
  "The mode (an int such as 0644) of a set of PosixFilePermissions.

    (permission-set->mode (fs/posix-file-permissions \"f\")) ;; => 0644"
  [permission-set]
  (reduce (fn [mode perm] (bit-or mode (permission->mode perm))) 0 permission-set))

(defn mode->permission-set
  "The set of PosixFilePermissions of a mode such as 0755; bits above
  0777 (setuid, sticky) have no PosixFilePermission and are left out.

    (mode->permission-set 0600) ;; => #{OWNER_READ OWNER_WRITE}"
  [mode]
  (into #{} (keep (fn [[bit perm]] (when-not (zero? (bit-and mode bit)) perm))) mode->permission))

(defn create-file
  "Creates the file with exactly `mode` (whatever the umask), as
  babashka.fs/create-file; throws java.nio.file.FileAlreadyExistsException
  when it exists.

    (create-file (io/file \"out.txt\") 0600)"
  [file mode]
  (let [perms (mode->permission-set mode)
        ;; created with the mode (the umask may take bits away, never add
        ;; any), then set exactly
        path (fs/create-file file {:posix-file-permissions perms})]
    (fs/set-posix-file-permissions path perms)
    path))

(defn create-dirs
  "Creates the directory and its missing parents, each new one with
  exactly `mode` (whatever the umask); existing directories are left as
  they are.

    (create-dirs (io/file \"a/b\") 0700)"
  [dir mode]
  (let [perms (mode->permission-set mode)
        ;; the owner needs to enter and write a new directory to make the
        ;; next one in it; the exact mode is set once all exist
        making (into perms [PosixFilePermission/OWNER_READ PosixFilePermission/OWNER_WRITE
                            PosixFilePermission/OWNER_EXECUTE])
        missing (->> (iterate fs/parent (fs/absolutize dir))
                     (take-while some?)
                     (take-while (complement fs/exists?))
                     reverse)]
    (doseq [d missing]
      (fs/create-dir d {:posix-file-permissions making}))
    (doseq [d (reverse missing)]
      (fs/set-posix-file-permissions d perms))
    (fs/path dir)))
