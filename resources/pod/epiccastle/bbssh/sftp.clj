(ns pod.epiccastle.bbssh.sftp
  "Remote files over SFTP (beyond bbssh 0.6): copy, list, inspect and
  change them on a session. Copies run in the pod; errors are ex-info
  with a `:type` such as `:bbssh/not-found` or `:bbssh/permission-denied`.

    (sftp/put s \"build/app.jar\" \"apps/app.jar\")
    (sftp/ls s \"apps\") ;; => [{:name \"app.jar\" :type :file :size 123 :mode 0644 ...}]"
  (:refer-clojure :exclude [get])
  (:require [pod.epiccastle.bbssh.impl.utils :as utils]
            [pod.epiccastle.bbssh.scp :as scp]
            [pod.epiccastle.bbssh.pod.sftp :as pod-sftp]))

;; When the namespace already existed (a client may create it before
;; evaluating this code), :refer-clojure cannot take clojure.core/get back.
(ns-unmap *ns* 'get)

(defn- transfer
  [sym session from to {:keys [progress-fn progress-context progress] :as opts} dest-key]
  (utils/check-map "the options of an sftp copy" opts)
  (let [pod-opts (-> (select-keys opts [:recurse? :preserve-times? :preserve-mode?])
                     (assoc :progress? (boolean (or progress-fn progress))))]
    (utils/invoke-with-progress sym [session (str from) (str to) pod-opts]
                             (or progress-fn (when progress scp/print-progress))
                             progress-context
                             (fn [name] {dest-key (java.io.File. ^String name)}))))

(defn get
  "Copies remote path `from` to local `to` (a directory needs `:recurse?
  true`; an existing local directory receives the copy inside it).
  Options: `:recurse?` [false], `:preserve-times?` [true],
  `:preserve-mode?` [true], `:progress-fn (fn [ctx {:keys [dest offset
  size]}] new-ctx)`, `:progress-context`, `:progress true` for a progress
  line on stderr. Returns the final progress context.

    (sftp/get s \"logs\" \"/tmp/logs\" {:recurse? true :progress true})"
  ([session from to] (get session from to {}))
  ([session from to opts]
   (transfer 'pod.epiccastle.bbssh.pod.sftp/download session from to opts :dest)))

(defn put
  "Copies local path `from` to remote `to`; options as `get`, with
  `:progress-fn` receiving `{:source File :offset :size}`.

    (sftp/put s \"build/app.jar\" \"apps/app.jar\" {:progress true})"
  ([session from to] (put session from to {}))
  ([session from to opts]
   (transfer 'pod.epiccastle.bbssh.pod.sftp/upload session from to opts :source)))

(defn ls
  "The entries of a remote directory, sorted by name: maps with `:name
  :path :type (:file :directory :symlink :other) :size :mode :mtime (epoch
  seconds) :uid :gid`.

    (sftp/ls s \"apps\")
    ;; => [{:name \"app.jar\" :path \"apps/app.jar\" :type :file :size 1234 :mode 0644 ...}]"
  [session path]
  (pod-sftp/ls session (str path)))

(defn stat
  "The attributes of a remote path (following symlinks), as `ls` shows
  them. Throws `:bbssh/not-found` when it does not exist.

    (:size (sftp/stat s \"apps/app.jar\")) ;; => 1234"
  [session path]
  (pod-sftp/stat session (str path)))

(defn lstat
  "As `stat`, without following a symlink.

    (:type (sftp/lstat s \"current\")) ;; => :symlink"
  [session path]
  (pod-sftp/lstat session (str path)))

(defn exists?
  "True when the remote path exists.

    (sftp/exists? s \"apps/app.jar\") ;; => true"
  [session path]
  (try (stat session path) true
       (catch clojure.lang.ExceptionInfo e
         (if (= :bbssh/not-found (:type (ex-data e))) false (throw e)))))

(defn mkdir
  "Makes a remote directory. Options: `:mode` [0755], `:parents true` to
  make missing parents too (an existing directory is then fine).

    (sftp/mkdir s \"releases/2024/06\" {:parents true})"
  ([session path] (mkdir session path {}))
  ([session path {:keys [mode parents] :as opts}]
   (utils/check-map "the options of mkdir" opts)
   (pod-sftp/mkdir session (str path) (or mode 0755) (boolean parents))
   nil))

(defn rm
  "Removes a remote file.

    (sftp/rm s \"apps/old.jar\")"
  [session path]
  (pod-sftp/rm session (str path))
  nil)

(defn rmdir
  "Removes a remote directory; with `{:recursive true}` everything in it.

    (sftp/rmdir s \"build-cache\" {:recursive true})"
  ([session path] (rmdir session path {}))
  ([session path {:keys [recursive] :as opts}]
   (utils/check-map "the options of rmdir" opts)
   (pod-sftp/rmdir session (str path) (boolean recursive))
   nil))

(defn rename
  "Renames or moves a remote path.

    (sftp/rename s \"apps/app.jar.new\" \"apps/app.jar\")"
  [session from to]
  (pod-sftp/rename session (str from) (str to))
  nil)

(defn chmod
  "Sets the mode of a remote path.

    (sftp/chmod s \"run.sh\" 0755)"
  [session path mode]
  (pod-sftp/chmod session (str path) mode)
  nil)

(defn read-all
  "The content of a small remote file (at most 64 MiB): a string
  (`:encoding` [\"utf-8\"]) or bytes with `{:as :bytes}`."
  ([session path] (read-all session path {}))
  ([session path {:keys [as encoding] :or {encoding "utf-8"} :as opts}]
   (utils/check-map "the options of read-all" opts)
   (utils/check-charset ":encoding" encoding)
   (let [bs (utils/decode-base64 (pod-sftp/read-all session (str path)))]
     (if (= :bytes as) bs (String. ^bytes bs ^String encoding)))))

(defn write
  "Writes `content` (a string or bytes) to a remote file, replacing it.
  Options: `:mode` [0644], `:encoding` [\"utf-8\"].

    (sftp/write s \"motd\" \"Back at 6pm\\n\" {:mode 0600})"
  ([session path content] (write session path content {}))
  ([session path content {:keys [mode encoding] :or {encoding "utf-8"} :as opts}]
   (utils/check-map "the options of write" opts)
   (utils/check-charset ":encoding" encoding)
   (pod-sftp/write session (str path) (utils/encode-base64 (utils/->bytes content encoding)) (or mode 0644))
   nil))

(defn input-stream
  "A java.io.InputStream reading a remote file, its bytes carried on a
  loopback data channel. Close it when done.

    (with-open [in (sftp/input-stream s \"logs/app.log\")]
      (count (line-seq (io/reader in))))"
  [session path]
  (let [f (pod-sftp/open session (str path) :read 0)
        sock (utils/data-channel (pod-sftp/file-channel f))
        in (.getInputStream sock)
        closed (atom false)]
    (proxy [java.io.InputStream] []
      (read
        ([] (.read in))
        ([bs] (.read in ^bytes bs))
        ([bs off len] (.read in ^bytes bs (int off) (int len))))
      (available [] (.available in))
      (close []
        (when (compare-and-set! closed false true)
          (.close sock)
          (pod-sftp/file-close f))))))

(defn output-stream
  "A java.io.OutputStream writing a remote file (created or truncated,
  `:mode` [0644]), its bytes carried on a loopback data channel. The file
  is complete when `close` returns.

    (with-open [out (sftp/output-stream s \"backup.tar\")]
      (io/copy (io/file \"backup.tar\") out))"
  ([session path] (output-stream session path {}))
  ([session path {:keys [mode] :as opts}]
   (utils/check-map "the options of output-stream" opts)
   (let [f (pod-sftp/open session (str path) :write (or mode 0644))
         sock (utils/data-channel (pod-sftp/file-channel f))
         out (.getOutputStream sock)
         closed (atom false)]
     (proxy [java.io.OutputStream] []
       (write
         ([b] (if (bytes? b) (.write out ^bytes b) (.write out (int b))))
         ([bs off len] (.write out ^bytes bs (int off) (int len))))
       (flush [] (.flush out))
       (close []
         (when (compare-and-set! closed false true)
           (.flush out)
           (.shutdownOutput sock)
           ;; waits until the pod has written everything and closed the file
           (pod-sftp/file-close f)
           (.close sock)))))))
