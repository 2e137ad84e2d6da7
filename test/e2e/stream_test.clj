;; Large command output streams through the pod without piling up: 1 GiB
;; (BBSSH_STREAM_MIB to change it) of `head -c` is copied into an
;; OutputStream and the pod's peak memory stays far below it.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(ns e2e.stream-test
  (:require [clojure.test :refer [deftest is]]
            [clojure.string :as str]
            [e2e.common :as c]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh])

(defn pod-pid
  "The pid of the pod process, a child of this JVM."
  []
  (->> (iterator-seq (.iterator (.descendants (java.lang.ProcessHandle/current))))
       (filter #(str/ends-with? (.orElse (.command (.info ^java.lang.ProcessHandle %)) "") "bbssh"))
       first
       (#(.pid ^java.lang.ProcessHandle %))))

(defn peak-rss-mib
  "VmHWM of process pid, in MiB."
  [pid]
  (let [lines (java.nio.file.Files/readAllLines (java.nio.file.Path/of (str "/proc/" pid "/status") (make-array String 0)))
        line (first (filter #(str/starts-with? % "VmHWM:") lines))]
    (quot (Long/parseLong (re-find #"\d+" line)) 1024)))

(defn counting-stream
  "An OutputStream that only counts what it is given."
  [counter]
  (proxy [java.io.OutputStream] []
    (write
      ([b] (if (bytes? b) (swap! counter + (alength ^bytes b)) (swap! counter inc)))
      ([bs off len] (swap! counter + len)))))

(def size (* 1024 1024 (Long/parseLong (or (System/getenv "BBSSH_STREAM_MIB") "1024"))))

(deftest large-output-streamed-with-bounded-memory
  (let [s (bbssh/ssh c/host (c/opts))
        pid (pod-pid)
        counted (atom 0)
        res @(bbssh/exec s (str "head -c " size " /dev/zero") {:out (counting-stream counted)})
        peak (peak-rss-mib pid)]
    (is (= 0 (:exit res)))
    (is (= size @counted) "every byte arrived")
    (println "pod peak RSS after streaming" (quot size 1048576) "MiB:" peak "MiB")
    (is (< peak 100) (str "the pod's peak RSS was " peak " MiB"))))

(deftest stdout-as-an-input-stream
  (let [s (bbssh/ssh c/host (c/opts))
        p (bbssh/exec s "seq 1 200000")
        lines (line-seq (java.io.BufferedReader. (java.io.InputStreamReader. ^java.io.InputStream (:out p))))]
    (is (= 200000 (count lines)))
    (is (= "200000" (last lines)))
    (is (= 0 (:exit @p)))))

(c/run-tests-and-exit 'e2e.stream-test)
