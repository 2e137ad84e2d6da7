;; File transfer through the real sshd: scp-to/scp-from and sftp get/put
;; of a tree (nested and empty directories, an empty file, a 64 MiB file,
;; modes 0600/0755, names with spaces, quotes and unicode), compared by
;; sha256, mode and mtime; a hostile scp server; errors. The server runs on
;; this machine, so the remote side is checked on disk.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.transfer-test
  (:require [clojure.test :refer [deftest is testing]]
            [clojure.java.io :as io]
            [clojure.string :as str]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]])
  (:import [java.nio.file Files LinkOption Path]
           [java.nio.file.attribute FileTime PosixFilePermission PosixFilePermissions]
           [java.security MessageDigest]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.scp :as scp]
         '[pod.epiccastle.bbssh.sftp :as sftp])

(def s (bbssh/ssh c/host (c/opts)))
(def home (c/env "BBSSH_TEST_HOME"))

(defn path ^Path [& parts] (Path/of (str (first parts)) (into-array String (map str (rest parts)))))

(defn mode-of [^Path p]
  (reduce (fn [m ^PosixFilePermission perm] (bit-or m (bit-shift-left 1 (- 8 (.ordinal perm)))))
          0 (Files/getPosixFilePermissions p (make-array LinkOption 0))))

(defn sha256-file [^Path p]
  (with-open [in (io/input-stream (.toFile p))]
    (let [md (MessageDigest/getInstance "SHA-256")
          buf (byte-array 65536)]
      (loop []
        (let [k (.read in buf)]
          (when (pos? k) (.update md buf 0 k) (recur))))
      (vec (.digest md)))))

(defn tree
  "relative path -> {:dir? :mode :sha :mtime} for everything under root."
  [root]
  (let [root (path root)]
    (with-open [st (Files/walk root (make-array java.nio.file.FileVisitOption 0))]
      (into {}
            (for [^Path p (iterator-seq (.iterator st))
                  :when (not= p root)]
              (let [dir? (Files/isDirectory p (make-array LinkOption 0))]
                [(str (.relativize root p))
                 (cond-> {:dir? dir? :mode (mode-of p)}
                   (not dir?) (assoc :sha (sha256-file p)
                                     :mtime (.to (Files/getLastModifiedTime p (make-array LinkOption 0))
                                                 java.util.concurrent.TimeUnit/SECONDS)))]))))))

(defn set-mode [^Path p mode]
  (Files/setPosixFilePermissions p (PosixFilePermissions/fromString
                                    (apply str (for [i (range 8 -1 -1)]
                                                 (if (bit-test mode i) (nth "xwr" (mod i 3)) \-))))))

(defn write-file [^Path p ^bytes data mode mtime]
  (Files/createDirectories (.getParent p) (make-array java.nio.file.attribute.FileAttribute 0))
  (Files/write p data (make-array java.nio.file.OpenOption 0))
  (set-mode p mode)
  (Files/setLastModifiedTime p (FileTime/fromMillis (* 1000 mtime))))

(defn make-tree
  "A source tree under a new temp dir; returns its root (a String)."
  []
  (let [root (str (n/temp-dir) "/tree")
        big (byte-array (* 64 1024 1024))]
    (.nextBytes (java.util.Random. 7) big)
    (write-file (path root "big file.bin") big 0644 1600000000)
    (write-file (path root "empty") (byte-array 0) 0600 1600000100)
    (write-file (path root "dir one" "nested" "deep.txt") (.getBytes "deep\n") 0644 1600000200)
    (write-file (path root "dir one" "run.sh") (.getBytes "#!/bin/sh\necho hi\n") 0755 1600000300)
    (write-file (path root "ünïcødé 🚀" "it's \"quoted\" $HOME `x`.txt") (.getBytes "quotes\n") 0600 1600000400)
    (Files/createDirectories (path root "empty dir") (make-array java.nio.file.attribute.FileAttribute 0))
    root))

(def source-tree (make-tree))

(defn same-tree? [a b]
  (let [ta (tree a) tb (tree b)]
    (when (not= ta tb)
      (println "trees differ:" (pr-str (into {} (remove (fn [[k v]] (= v (get tb k))) ta)))
               "vs" (pr-str (into {} (remove (fn [[k v]] (= v (get ta k))) tb)))))
    (= ta tb)))

(deftest scp-round-trip-of-a-tree
  (let [remote-name (str "scp tree " (System/nanoTime))
        back (str (n/temp-dir) "/back")
        calls (atom 0)]
    (scp/scp-to [(io/file source-tree)] remote-name {:session s :recurse? true})
    (is (same-tree? source-tree (str home "/" remote-name)) "the remote copy is identical")
    (let [ctx (scp/scp-from remote-name back {:session s :recurse? true
                                              :progress-context 0
                                              :progress-fn (fn [ctx {:keys [dest offset size]}]
                                                             (swap! calls inc)
                                                             (is (instance? java.io.File dest))
                                                             (is (<= offset size))
                                                             (inc ctx))})]
      (is (= @calls ctx) "the progress context is threaded through")
      (is (>= ctx 6) "at least one call per file"))
    (is (same-tree? source-tree back) "the copy brought back is identical")))

(deftest scp-to-data-sources
  (let [dir (str "scp data " (System/nanoTime))
        bytes-in (byte-array (map unchecked-byte [0xf0 0x9f 0x9a 0x80 0]))]
    (-> (bbssh/exec s (str "mkdir '" dir "'")) deref)
    (scp/scp-to [["content🚀" {:filename "string"}]
                 [(byte-array [1 2 3 4]) {:filename "byte-array" :mode 0600}]
                 [(java.io.ByteArrayInputStream. bytes-in) {:filename "input stream" :size 5}]]
                dir {:session s})
    (is (= "content🚀" (slurp (str home "/" dir "/string"))))
    (is (= [1 2 3 4] (vec (Files/readAllBytes (path home dir "byte-array")))))
    (is (= 0600 (mode-of (path home dir "byte-array"))))
    (is (= (vec bytes-in) (vec (Files/readAllBytes (path home dir "input stream")))))
    (is (= :pod.epiccastle.bbssh.scp/filename-error
           (-> (ex #(scp/scp-to [["x" {}]] dir {:session s})) :data :type)))))

(deftest scp-to-progress-as-in-bbssh
  ;; bbssh 0.6's test-scp-to-progress: buffer 500, a counting progress-fn
  (let [root (str (n/temp-dir) "/files")
        rnd (byte-array 115)
        dir (str "progress " (System/nanoTime))]
    (.nextBytes (java.util.Random. 3) rnd)
    (write-file (path root ".hidden") (.getBytes "hidden🚀\n") 0644 1600000000)
    (write-file (path root "dir1" "zero") (byte-array 0) 0644 1600000000)
    (Files/createDirectories (path root "dir1" "dir3") (make-array java.nio.file.attribute.FileAttribute 0))
    (write-file (path root "dir2" "random") rnd 0644 1600000000)
    (write-file (path root "dir2" "test.txt") (.getBytes "test\n") 0644 1600000000)
    (write-file (path root "dir2" "zeroes") (byte-array 1024) 0644 1600000000)
    (-> (bbssh/exec s (str "mkdir '" dir "'")) deref)
    (is (= 10 (scp/scp-to [(io/file root)
                           ["content🚀" {:filename "string"}]
                           [(byte-array [1 2 3 4]) {:filename "byte-array"}]
                           [(java.io.ByteArrayInputStream. (byte-array [1 2 3 4 5])) {:filename "input-stream" :size 5}]]
                          dir {:session s :recurse? true :buffer-size 500 :progress-context 0
                               :progress-fn (fn [ctx _] (inc ctx))})))
    (is (same-tree? root (str home "/" dir "/files")))
    (testing ":preserve-mode? false uses :mode and :dir-mode"
      (let [dir2 (str dir "/modes")]
        (scp/scp-to [(io/file root)] dir2 {:session s :recurse? true :preserve-mode? false :mode 0600 :dir-mode 0700})
        (is (= 0600 (mode-of (path home dir2 "dir2" "test.txt"))))
        (is (= 0700 (mode-of (path home dir2 "dir1"))))))))

(deftest scp-hostile-server
  (let [target-parent (n/temp-dir)
        target (str target-parent "/target")]
    (.mkdir (io/file target))
    (doseq [evil ["C0644 4 ../evil" "C0644 4 a/b" "C0644 4 .." "D0755 0 .."]]
      (let [fake (str "printf '" evil "\\nevil'; cat >/dev/null")
            e (ex #(scp/scp-from "whatever" target {:session s :recurse? true :scp-command-fn (constantly fake)}))]
        (is (some? e) evil)
        (is (= ["target"] (vec (.list (io/file target-parent)))) (str evil ": nothing written beside the target"))
        (is (= [] (vec (.list (io/file target)))) (str evil ": nothing written in the target"))))))

(deftest scp-errors
  (let [e (ex #(scp/scp-from "no-such-file" (str (n/temp-dir) "/x") {:session s}))]
    (is (= :pod.epiccastle.bbssh.scp/scp-error (-> e :data :type)))
    (is (re-find #"No such file" (:message e))))
  (let [e (ex #(scp/scp-from "/etc" (str (n/temp-dir) "/x") {:session s}))]
    (is (re-find #"not a regular file" (str (:message e)))))
  (let [e (ex #(scp/scp-to [["x" {:filename "x"}]] "/root/forbidden" {:session s}))]
    (is (re-find #"(?i)permission denied" (str (:message e)))))
  (is (some? (ex #(scp/scp-from "/etc/hostname" "/nonexistent/dir/file" {:session s}))) "local path missing")
  (is (some? (ex #(scp/scp-to [(io/file "/nonexistent/file")] "x" {:session s}))) "local source missing")
  (is (= "ok\n" (:out @(bbssh/exec s "echo ok" {:out :string}))) "the session still works"))

(deftest sftp-round-trip-of-a-tree
  (let [remote (str home "/sftp tree " (System/nanoTime))
        back (str (n/temp-dir) "/back")]
    (sftp/put s source-tree remote {:recurse? true})
    (is (same-tree? source-tree remote))
    (sftp/get s remote back {:recurse? true :progress true})
    (is (same-tree? source-tree back))
    (let [e (ex #(sftp/get s remote (str (n/temp-dir) "/x")))]
      (is (= :bbssh/bad-option (-> e :data :type)))
      (is (re-find #"recurs" (:message e)) "a directory needs :recurse?"))))

(deftest sftp-operations
  (let [dir (str home "/ops " (System/nanoTime))]
    (sftp/mkdir s (str dir "/a/b") {:parents true})
    (is (= :directory (:type (sftp/stat s (str dir "/a/b")))))
    (sftp/write s (str dir "/a/f.txt") "héllo" {:mode 0600})
    (is (= "héllo" (sftp/read-all s (str dir "/a/f.txt"))))
    (is (= 0600 (:mode (sftp/stat s (str dir "/a/f.txt")))))
    (sftp/chmod s (str dir "/a/f.txt") 0640)
    (is (= 0640 (:mode (sftp/stat s (str dir "/a/f.txt")))))
    (is (= ["b" "f.txt"] (mapv :name (sftp/ls s (str dir "/a")))))
    (sftp/rename s (str dir "/a/f.txt") (str dir "/a/g.txt"))
    (is (not (sftp/exists? s (str dir "/a/f.txt"))))
    (with-open [out (sftp/output-stream s (str dir "/stream.bin"))]
      (dotimes [i 10] (.write out (byte-array 100000 (byte i)))))
    (is (= 1000000 (:size (sftp/stat s (str dir "/stream.bin")))))
    (with-open [in (sftp/input-stream s (str dir "/stream.bin"))]
      (is (= 1000000 (count (.readAllBytes in)))))
    (sftp/rm s (str dir "/stream.bin"))
    (sftp/rmdir s dir {:recursive true})
    (is (not (sftp/exists? s dir)))
    (testing "errors"
      (is (= :bbssh/not-found (-> (ex #(sftp/stat s (str dir "/missing"))) :data :type)))
      (is (= :bbssh/permission-denied (-> (ex #(sftp/write s "/root/nope" "x")) :data :type)))
      (is (= :bbssh/not-found (-> (ex #(sftp/get s (str dir "/missing") (str (n/temp-dir) "/x"))) :data :type))))))

(c/run-tests-and-exit 'e2e.transfer-test)
