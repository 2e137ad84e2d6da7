;; Copy a directory tree to a server (or back with --from), with a
;; progress line per file, then check that every file arrived intact by
;; comparing SHA-256 sums on both sides.
;;
;;   bb examples/copy_tree.clj HOST LOCAL_DIR REMOTE_DIR
;;   bb examples/copy_tree.clj --from HOST REMOTE_DIR LOCAL_DIR
;;
;; REMOTE_DIR is relative to the remote home directory unless it starts
;; with /. The copy goes into the target directory, created if missing. The
;; pod is $BBSSH_POD, else `bbssh` on the PATH.
(require '[babashka.pods :as pods]
         '[clojure.java.io :as io]
         '[clojure.string :as str])
(pods/load-pod (or (System/getenv "BBSSH_POD") "bbssh") {:transport :socket})
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.scp :as scp]
         '[pod.epiccastle.bbssh.sftp :as sftp])

(defn sha256 [^java.io.File f]
  (let [md (java.security.MessageDigest/getInstance "SHA-256")
        buf (byte-array 65536)]
    (with-open [in (io/input-stream f)]
      (loop []
        (let [n (.read in buf)]
          (when (pos? n) (.update md buf 0 n) (recur)))))
    (apply str (map #(format "%02x" %) (.digest md)))))

(defn local-sums
  "{relative-path sha256} of every file under dir."
  [dir]
  (let [root (.toPath (io/file dir))]
    (into (sorted-map)
          (for [^java.io.File f (file-seq (io/file dir)) :when (.isFile f)]
            [(str (.relativize root (.toPath f))) (sha256 f)]))))

(defn remote-sums
  "{relative-path sha256} of every file under the remote dir."
  [s dir]
  (let [quoted (str "'" (str/replace dir "'" "'\\''") "'")
        {:keys [exit out err]} @(bbssh/exec s (str "cd " quoted " && find . -type f -exec sha256sum {} +")
                                            {:out :string :err :string})]
    (when-not (zero? exit)
      (throw (ex-info (str "cannot list " dir " on the server: " (str/trim err)) {})))
    (into (sorted-map)
          (for [line (str/split-lines out) :when (not (str/blank? line))
                :let [[_ sum path] (re-matches #"([0-9a-f]{64})  \./(.*)" line)]]
            [path sum]))))

(let [[a b c d] *command-line-args*
      from? (= "--from" a)
      [host src dst] (if from? [b c d] [a b c])]
  (when-not (and host src dst)
    (binding [*out* *err*]
      (println "usage: copy_tree.clj HOST LOCAL_DIR REMOTE_DIR | --from HOST REMOTE_DIR LOCAL_DIR"))
    (System/exit 2))
  (let [s (bbssh/ssh host)
        started (System/nanoTime)]
    (if from?
      (do (.mkdirs (io/file dst))
          (scp/scp-from src dst {:session s :recurse? true :progress true}))
      (do (sftp/mkdir s dst {:parents true})
          (scp/scp-to (vec (.listFiles (io/file src))) dst {:session s :recurse? true :progress true})))
    (let [local (local-sums (if from? (io/file dst (.getName (io/file src))) src))
          remote (remote-sums s (if from? src dst))
          bytes (reduce + (map #(.length ^java.io.File %) (filter #(.isFile ^java.io.File %) (file-seq (io/file (if from? dst src))))))]
      (session/disconnect s)
      (if (= local remote)
        (println (format "copied %d files, %d bytes, in %.1f s; all SHA-256 sums match"
                         (count local) bytes (/ (- (System/nanoTime) started) 1e9)))
        (do (println "MISMATCH between local and remote files:")
            (doseq [k (sort (set (concat (keys local) (keys remote))))
                    :when (not= (local k) (remote k))]
              (println " " k "local" (local k) "remote" (remote k)))
            (System/exit 1))))))
