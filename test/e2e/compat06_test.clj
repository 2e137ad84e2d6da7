;; bbssh 0.6 scripts run unchanged (issue 16): the behaviours bbssh 0.6's
;; own test suite relies on, written the way that suite calls them
;; (password logins with :strict-host-key-checking false, channel-exec on
;; an exec's :channel, pod streams as :in, :connection-timeout in forward
;; maps, DSA host keys, impl.utils' POSIX helpers), against the real sshd.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.compat06-test
  (:require [babashka.fs :as fs]
            [babashka.process :as process]
            [clojure.java.io :as io]
            [clojure.string :as string]
            [clojure.test :refer [deftest is testing]]
            [e2e.common :as c]
            [e2e.netutil :as n])
  (:import [java.nio.file.attribute PosixFilePermission]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.agent :as agent]
         '[pod.epiccastle.bbssh.session :as session]
         '[pod.epiccastle.bbssh.channel-exec :as channel-exec]
         '[pod.epiccastle.bbssh.input-stream :as input-stream]
         '[pod.epiccastle.bbssh.output-stream :as output-stream]
         '[pod.epiccastle.bbssh.byte-array-input-stream :as byte-array-input-stream]
         '[pod.epiccastle.bbssh.byte-array-output-stream :as byte-array-output-stream]
         '[pod.epiccastle.bbssh.user-info :as user-info]
         '[pod.epiccastle.bbssh.host-key :as host-key]
         '[pod.epiccastle.bbssh.host-key-repository :as host-key-repository]
         '[pod.epiccastle.bbssh.key-pair :as key-pair]
         '[pod.epiccastle.bbssh.impl.utils :as utils])

(def scratch (n/temp-dir))

;; Every connection of 0.6's suite: root's password, strict checking off.
;; The known_hosts file is the test's own (0.6 used ~/.ssh/known_hosts).
(def opts {:username c/user
           :password (c/env "BBSSH_TEST_PASSWORD")
           :port c/port
           :strict-host-key-checking false
           :known-hosts (str (fs/path scratch "known_hosts"))})

(def session (bbssh/ssh c/host opts))

(defn read-n
  "Reads n bytes from the InputStream (several reads if need be)."
  [^java.io.InputStream in n]
  (let [buff (byte-array n)]
    (loop [off 0]
      (let [got (if (< off n) (.read in buff off (- n off)) -1)]
        (if (pos? got) (recur (+ off got)) (java.util.Arrays/copyOfRange buff 0 off))))))

;; --- 1. impl.utils (0.6's test_utils.clj) ---

(def all-perms
  [PosixFilePermission/OWNER_READ PosixFilePermission/OWNER_WRITE PosixFilePermission/OWNER_EXECUTE
   PosixFilePermission/GROUP_READ PosixFilePermission/GROUP_WRITE PosixFilePermission/GROUP_EXECUTE
   PosixFilePermission/OTHERS_READ PosixFilePermission/OTHERS_WRITE PosixFilePermission/OTHERS_EXECUTE])

(deftest utils-permission-sets
  (is (= 0644 (utils/permission-set->mode #{PosixFilePermission/OWNER_READ PosixFilePermission/OWNER_WRITE
                                            PosixFilePermission/GROUP_READ PosixFilePermission/OTHERS_READ})))
  (is (= 0755 (utils/permission-set->mode #{PosixFilePermission/OWNER_READ PosixFilePermission/OWNER_WRITE
                                            PosixFilePermission/OWNER_EXECUTE PosixFilePermission/GROUP_READ
                                            PosixFilePermission/GROUP_EXECUTE PosixFilePermission/OTHERS_READ
                                            PosixFilePermission/OTHERS_EXECUTE})))
  (is (= 0777 (utils/permission-set->mode (set all-perms))))
  (is (= 0 (utils/permission-set->mode #{})))
  (is (= #{PosixFilePermission/OWNER_READ PosixFilePermission/OWNER_WRITE
           PosixFilePermission/GROUP_READ PosixFilePermission/OTHERS_READ}
         (utils/mode->permission-set 0644)))
  (is (= (set all-perms) (utils/mode->permission-set 0777)))
  (is (= #{} (utils/mode->permission-set 0)))
  (testing "every mode survives the round trip"
    (is (every? #(= % (utils/permission-set->mode (utils/mode->permission-set %))) (range 01000))))
  (is (= 0400 (utils/permission->mode PosixFilePermission/OWNER_READ)))
  (is (= PosixFilePermission/OTHERS_EXECUTE (utils/mode->permission 01))))

(defn ls-mode [f] (subs (:out (process/sh "ls" "-ld" (str f))) 0 10))

(deftest utils-create-file-and-dirs
  (let [f (io/file (str scratch) "bbssh-test-file")]
    ;; 0.6's suite ran under umask 0000; the modes must hold under any umask
    (doseq [[mode shown] [[0644 "-rw-r--r--"] [0755 "-rwxr-xr-x"] [0000 "----------"] [0777 "-rwxrwxrwx"]]]
      (fs/delete-if-exists f)
      (utils/create-file f mode)
      (is (= shown (ls-mode f)) (format "create-file %o" mode)))
    (is (thrown? java.nio.file.FileAlreadyExistsException (utils/create-file f 0777))))
  (let [base (io/file (str scratch) "dirs")]
    (doseq [[mode shown] [[0755 "drwxr-xr-x"] [0700 "drwx------"] [0701 "drwx-----x"]]]
      (fs/delete-tree base)
      (utils/create-dirs base mode)
      (is (= shown (ls-mode base)) (format "create-dirs %o" mode)))
    (fs/delete-tree base)
    (utils/create-dirs (io/file base "deeper") 0700)
    (is (= ["drwx------" "drwx------"] [(ls-mode base) (ls-mode (io/file base "deeper"))]))
    (utils/create-dirs (io/file base "deeper") 0755)
    (is (= "drwx------" (ls-mode (io/file base "deeper"))) "an existing directory is left as it is")))

;; --- 2. an exec's :channel is a channel-exec (0.6's test-wait, test-deref) ---

(deftest exec-channel-is-a-channel-exec
  (let [{:keys [channel] :as process} (bbssh/exec session "sleep 0.5" {:in nil})]
    (is (re-matches #"bbssh/channel-exec-\d+" (subs (str channel) 1)))
    (is (nil? (channel-exec/wait channel 0)))
    (is (nil? (channel-exec/wait channel -1)))
    (is (nil? (channel-exec/wait channel 100)))
    (is (channel-exec/is-connected channel))
    (is (not (channel-exec/is-closed channel)))
    (is (= -1 (channel-exec/get-exit-status channel)))
    (is (= 0 (channel-exec/wait channel 10000)))
    (is (not (channel-exec/is-connected channel)))
    (is (channel-exec/is-closed channel))
    (is (= 0 (channel-exec/get-exit-status channel)))
    (is (= 0 (channel-exec/wait channel 0)) "an ended command answers a timeout of 0")
    (is (integer? (channel-exec/get-id channel)))
    (is (= 0 (:exit @process)) "deref still works"))
  (let [{:keys [channel]} (bbssh/exec session "sleep 0.5" {:in nil})]
    (is (= 0 (channel-exec/wait channel))))
  (let [{:keys [channel]} (bbssh/exec session "sleep 0.5; exit 10" {:in nil})]
    (is (= 10 (channel-exec/wait channel))))
  (testing "deref (0.6's test-deref)"
    (let [{:keys [channel exit]} (-> (bbssh/exec session "sleep 0.5" {:in nil}) deref)]
      (is (not (channel-exec/is-connected channel)))
      (is (= 0 exit)))
    (let [{:keys [channel exit out err]} @(bbssh/exec session "sleep 0.5; echo foo; echo bar 1>&2; exit 10"
                                                      {:in nil :out :string :err :string})]
      (is (not (channel-exec/is-connected channel)))
      (is (= [10 "foo\n" "bar\n"] [exit out err])))
    (let [{:keys [out err]} @(bbssh/exec session "echo foo; echo bar 1>&2" {:out :bytes :err :bytes})]
      (is (= [[102 111 111 10] [98 97 114 10]] [(seq out) (seq err)]))))
  (testing "send-signal and disconnect end the command"
    (let [{:keys [channel] :as p} (bbssh/exec session "sleep 30" {:in nil})]
      (channel-exec/send-signal channel "KILL")
      (is (= -1 (channel-exec/wait channel 10000)))
      (is (= "KILL" (:signal @p))))
    (let [{:keys [channel]} (bbssh/exec session "sleep 30" {:in nil :pty true})]
      (channel-exec/disconnect channel)
      (is (not (channel-exec/is-connected channel)))
      (is (channel-exec/is-closed channel))))
  (testing "a setter on the :channel names what applies"
    (let [{:keys [channel] :as p} (bbssh/exec session "true" {:in nil})
          e (n/ex #(channel-exec/set-command channel "id"))]
      (is (= :bbssh/bad-option (:type (:data e))))
      (is (string/includes? (:message e) "is the command of bbssh/exec"))
      (is (= 0 (:exit @p)))))
  (testing "the pod's exec vars take the :channel as the process"
    (require '[pod.epiccastle.bbssh.pod.exec :as pod-exec])
    (let [{:keys [channel]} (bbssh/exec session "exit 4" {:in nil})]
      (is (= 4 (:exit ((resolve 'pod-exec/wait) channel)))))))

;; --- 3. every :in of 0.6's exec-in-all-types, the pod stream included ---

(defn cat-of
  "Runs cat with :in in, reads n bytes of its output (nil n: to the end),
  then checks the :channel as 0.6's test does."
  [in & [{:keys [n in-enc feed]}]]
  (let [{:keys [channel out] :as p} (bbssh/exec session "cat" (cond-> {:in in} in-enc (assoc :in-enc in-enc)))
        _ (when feed (feed p))
        got (if n (read-n out n) (.readAllBytes ^java.io.InputStream out))]
    (Thread/sleep 100)
    (is (channel-exec/is-closed channel))
    (is (= 0 (channel-exec/get-exit-status channel)))
    got))

(deftest exec-in-all-types
  (testing ":in nil"
    (let [{:keys [channel out]} (bbssh/exec session "cat" {:in nil})]
      (is (= 0 (.available out)))
      (is (= 0 (channel-exec/wait channel 10000)))
      (is (channel-exec/is-closed channel))))
  (is (= "string\ninput\n" (String. (cat-of "string\ninput\n") "UTF-8")))
  (is (= "🚢" (String. (cat-of "🚢" {:in-enc "utf-16"}) "utf-16")))
  (is (= "string\ninput\n" (String. (cat-of (.getBytes "string\ninput\n")) "UTF-8")))
  (is (= "🚢" (String. (cat-of (.getBytes "🚢" "utf-16")) "utf-16")))
  (is (= (range 128) (seq (cat-of (java.io.ByteArrayInputStream. (byte-array (range 128))) {:n 256}))))
  (testing "a pod input-stream fed by output-stream/write"
    (let [in-output-stream (output-stream/new)
          in-stream (input-stream/new in-output-stream)]
      (is (= (range 128)
             (seq (cat-of in-stream {:feed (fn [{:keys [in]}]
                                             (is (= in-stream in) "the record's :in is the stream")
                                             (doseq [b (range 128)] (output-stream/write in-output-stream b))
                                             (output-stream/close in-output-stream))}))))))
  (testing "other pod input streams"
    (is (= "from a byte array\n" (String. (cat-of (byte-array-input-stream/new "from a byte array\n")) "UTF-8")))
    (let [os (output-stream/new)
          is (input-stream/new os 1024)]
      (output-stream/write os (.getBytes "piped ") 0 6)
      (let [p (bbssh/exec session "cat" {:in is :out :string})]
        (output-stream/write os (.getBytes "later") 0 5)
        (output-stream/close os)
        (is (= "piped later" (:out @p))))))
  (testing ":in :stream"
    (is (= (range 128) (seq (cat-of :stream {:n 256 :feed (fn [{:keys [in]}]
                                                            (doseq [b (range 128)] (.write ^java.io.OutputStream in (int b)))
                                                            (.close ^java.io.OutputStream in))})))))
  (testing "a stream that never ends is closed when the command ends"
    (let [os (output-stream/new)
          is (input-stream/new os)
          p (bbssh/exec session "head -c 3" {:in is :out :string})]
      (output-stream/write os (.getBytes "abcdef") 0 6) ; never closed
      (is (= [0 "abc"] [(:exit @p) (:out @p)]))
      (is (= "Pipe closed" (:message (n/ex #(output-stream/write os (.getBytes "more") 0 4))))
          "the command's end closed the stream, as a channel closes its input stream")))
  (testing "a piped babashka.process (0.6's test-process-pipe)"
    (is (= "foo\n" (-> (process/process ["echo" "foo"])
                       (bbssh/exec "cat 1>&2" {:session session :err :string})
                       deref :err))))
  (testing "not a stream"
    (let [e (n/ex #(bbssh/exec session "cat" {:in :bbssh/session-999999}))]
      (is (= :bbssh/bad-option (:type (:data e))))
      (is (string/includes? (:message e) ":in must be a pod input stream")))))

;; 0.6's exec also took pod output streams as :out and :err
(deftest exec-out-and-err-to-pod-streams
  (let [out (byte-array-output-stream/new)
        err (byte-array-output-stream/new)
        p (bbssh/exec session "echo foo; echo bar >&2; exit 3" {:out out :err err})]
    (is (= [out err] [(:out p) (:err p)]) "the record holds the streams")
    (is (= 3 (:exit @p)))
    (is (= ["foo\n" "bar\n"] [(byte-array-output-stream/to-string out) (byte-array-output-stream/to-string err)])))
  (let [os (output-stream/new)
        is (input-stream/new os)
        {:keys [channel]} (bbssh/exec session "seq 1 3" {:out os})]
    (is (= "1\n2\n3\n" (slurp (input-stream/make-proxy is))) "the pipe ends with the output")
    (is (= 0 (channel-exec/wait channel 10000))))
  (let [e (n/ex #(bbssh/exec session "true" {:err session}))]
    (is (= :bbssh/bad-option (:type (:data e))))
    (is (string/includes? (:message e) ":err must be a pod output stream"))))

;; --- 4. :connection-timeout in forward maps (0.6's test_port_forward) ---

(defn read-line-from [port]
  (with-open [sock (java.net.Socket. "127.0.0.1" (int port))]
    (.readLine (io/reader (.getInputStream sock)))))

(deftest forwards-with-connection-timeout
  (let [port (n/free-port)]
    (is (empty? (session/get-port-forwarding-local session)))
    (session/set-port-forwarding-local session {:local-port port :remote-host "localhost" :remote-port c/port
                                                :connection-timeout 30000})
    (is (= [{:local-port port :remote-host "localhost" :remote-port c/port}]
           (session/get-port-forwarding-local session)))
    (is (string/starts-with? (read-line-from port) "SSH-2.0-OpenSSH"))
    (session/delete-port-forwarding-local session {:local-port port :connection-timeout 30000})
    (is (empty? (session/get-port-forwarding-local session)))
    (is (thrown? java.net.ConnectException (read-line-from port))))
  (let [server (n/echo-server)
        rport (n/free-port)]
    (session/set-port-forwarding-remote session {:remote-port rport :local-host "127.0.0.1"
                                                 :local-port (.getLocalPort server) :connection-timeout 30000})
    (is (= [{:remote-port rport :local-host "127.0.0.1" :local-port (.getLocalPort server)}]
           (session/get-port-forwarding-remote session)))
    (session/delete-port-forwarding-remote session {:remote-port rport})
    (.close server))
  (testing "through ssh's :port-forward-local"
    (let [port (n/free-port)
          s (bbssh/ssh c/host (assoc opts :port-forward-local [{:local-port port :remote-host "localhost"
                                                                  :remote-port c/port :connection-timeout 30000}]))]
      (is (string/starts-with? (read-line-from port) "SSH-2.0-OpenSSH"))
      (session/disconnect s)))
  (testing "both spellings at once are an error"
    (let [e (n/ex #(session/set-port-forwarding-local session {:local-port 0 :remote-host "localhost" :remote-port 22
                                                               :connect-timeout 1 :connection-timeout 1}))]
      (is (= :bbssh/bad-option (:type (:data e))))
      (is (string/includes? (:message e) "not both")))))

;; --- 5. DSA host keys (0.6's test_known_hosts) and key generation ---

(def dsa-key (utils/decode-base64 "AAAAB3NzaC1kc3MAAACBAIFtdrKdeKCM52wH1sNR1elFh5P62c0LKAlzqLYQJL7jhwdpxLO3k8yl44XgGwMtwVSecHD6Se9GWP+Ui+nFk93R6smTHeCQvxEhRIdbqsPMyQsaDnc4bGS///3snk385pt5BQA2OxnKddN2RPnIX04rBis6iCZzXWLK6d8qebvnAAAAFQCeEpzPZuBt/sCA3EJ/byottEKJsQAAAIA10Wykylnnh87D4wgxFjZ7SAn3rjLFLkrs9i/2Am3myBJ7SXQGDwikNcM6BrcobjvgzFuklv7mj8iAW7PSJnRZpTCihjuUsulOEFmuU+WNWo2gg1CEL4iEH3b1eF8trb1RAW6ao++TmtMMN2MFIcuTKBl3P2XNrnrSKAEAC6XgZgAAAIBEXvY0crElr7A72myjybg/DTtA62YVObZB1a8QJ2LCdWqvORPZkfFsM2air0H6PMnKXHHVlkWu4pupYoUxAWjie1wmntNg13XtVZ2p6iwqGR6Oy3Z9Oz0fBJoK708euoueVTkicE8xtZ9fgDJ9enzKMZRZYPldOGjfpfo81I3lqQ=="))
(def dsa-key-2 (utils/decode-base64 "AAAAB3NzaC1kc3MAAACBAKGrXxD2s7Y6tfmCFvxve1SWVJuwVVPod43njhW3krj3I60hMaJkMAiLLyMh+eSyToni6y/uRmjxEcwdXAH7cPDP8GG7TFqflUw1jtiU1c9IGkXvjnBAdch8QaQRMTc7wlt0WmpbeqXzkeH+XgqqgvQzKvzrnOVWMKlFA4h/8aklAAAAFQCJ3ZQc1pCEnLHpoHSsvjNdrm1foQAAAIAiJv1iiJRhrryYGdayHowamZZp16XgkON8C+6MFiWhEr2f6BbJJQIYlfSG375UzWSlgRU5GFKc4nC/McGKqW3HKOKxVIMkkafFSNuAOfAWBmX4J9ccpD34kr1xjK5LTOl1O0Hhe4heIr7rKyI5yIelrjE9rGGyOoXsxjCbPeyXzQAAAIBWc8wAZSN9iU8/7rOLVWCbBgOx/zdU3d42UnSRo3zYerrogkc0FOAi02Ok1xXxNQEhdhbmW1KrAHPU+WD0ZDy1qHBQ/JdUTtvJF0lJI6UgU8J3bQWsLPZzTICb+e4Xn25rmAwIYszp67N6zIzO/KrdNAiyE9HzIwVgr+QaythSEg=="))

(deftest dsa-host-keys
  (let [agent (agent/new)
        other-key (key-pair/get-public-key-blob (key-pair/generate agent :ecdsa 256))]
    (agent/set-known-hosts-content agent (.getBytes "# nothing yet\n"))
    (let [hkr (agent/get-host-key-repository agent)
          new-host "host.domain"]
      (is (= "ssh-dss" (host-key/get-type (host-key/new new-host dsa-key))))
      (is (= "ssh-dss" (host-key/get-type (host-key/new new-host :sshdss dsa-key))))
      (host-key-repository/add hkr (host-key/new new-host dsa-key)
                               (user-info/new {:prompt-yes-no (fn [_] true)}))
      (is (= 1 (count (host-key-repository/get-host-key hkr))))
      (is (= :ok (host-key-repository/check hkr new-host dsa-key)))
      (is (= :changed (host-key-repository/check hkr new-host dsa-key-2)))
      (is (= :not-included (host-key-repository/check hkr new-host other-key)))
      (host-key-repository/remove hkr new-host "ssh-dss")
      (is (= :not-included (host-key-repository/check hkr new-host dsa-key)))
      (is (empty? (host-key-repository/get-host-key hkr)))))
  (testing "written to and read from a known_hosts file"
    (let [file (str (fs/path scratch "dsa_known_hosts"))
          agent (agent/new)]
      (agent/set-known-hosts agent file)
      (host-key-repository/add (agent/get-host-key-repository agent) (host-key/new "old.box" dsa-key) nil)
      (is (= (str "old.box ssh-dss " (utils/encode-base64 dsa-key) "\n") (slurp file)))
      (spit file (str "|1|hashed|nonsense ssh-ed25519 AAAA\n" (slurp file)) )
      (let [again (agent/new)]
        (agent/set-known-hosts again file)
        (is (= :ok (host-key-repository/check (agent/get-host-key-repository again) "old.box" dsa-key)))
        (is (= {:host "old.box" :type "ssh-dss" :key (utils/encode-base64 dsa-key) :comment "" :marker ""}
               (dissoc (host-key/get-info (first (host-key-repository/get-host-key (agent/get-host-key-repository again))) again)
                       :finger-print))))))
  (testing "key-pair: a DSA public key reads, generating dsa or ed448 says why not"
    (let [kp (key-pair/load-bytes nil nil (str "ssh-dss " (utils/encode-base64 dsa-key) " old"))]
      (is (= 1024 (key-pair/get-key-size kp)))
      (is (re-matches #"([0-9a-f]{2}:){15}[0-9a-f]{2}" (key-pair/get-finger-print kp))))
    (let [e (n/ex #(key-pair/generate (agent/new) :dsa 1024))]
      (is (= :bbssh/unsupported (:type (:data e))))
      (is (string/includes? (:message e) "OpenSSH removed it")))
    (let [e (n/ex #(key-pair/generate (agent/new) :ed448))]
      (is (= :bbssh/unsupported (:type (:data e))))
      (is (string/includes? (:message e) "OpenSSH never implemented ssh-ed448")))))

;; --- 6. a changed host key with :strict-host-key-checking false ---

(defn stale-known-hosts
  "A known_hosts file naming another ed25519 key for the test sshd, as
  after the server was re-created at the same address."
  [name]
  (let [file (str (fs/path scratch name))
        stale (key-pair/get-public-key-blob (key-pair/generate (agent/new) :ed25519))]
    (spit file (format "[%s]:%d ssh-ed25519 %s\n" c/host c/port (utils/encode-base64 stale)))
    file))

(defn key-opts
  "Options that log in with the test key, on the given known_hosts."
  [known-hosts m]
  (merge {:username c/user :port c/port :identity (c/env "BBSSH_TEST_IDENTITY")
          :known-hosts known-hosts :no-agent true :identities-only true}
         m))

(deftest changed-host-key
  (testing "0.6's suite on its second run: a password login is refused, the password never sent"
    (let [kh (stale-known-hosts "kh-password")
          before (slurp kh)
          e (n/ex #(bbssh/ssh c/host (assoc opts :known-hosts kh)))]
      (is (= :bbssh/host-key-changed (:type (:data e))))
      (is (string/includes? (:message e) "password authentication is disabled on this connection to avoid man-in-the-middle attacks"))
      (is (string/includes? (:message e) "ssh-keygen -R"))
      (is (= before (slurp kh)) "the new key is not recorded")))
  (testing "a key login goes on, loudly, without forwarding"
    (let [kh (stale-known-hosts "kh-key")
          before (slurp kh)
          logged (atom [])
          s (bbssh/ssh c/host (key-opts kh {:strict-host-key-checking false
                                            :debug-fn (fn [level message] (swap! logged conj [level message]))}))]
      (is (session/connected? s))
      (is (= "hi\n" (:out @(bbssh/exec s "echo hi" {:out :string}))))
      (is (n/wait-until 5000 #(some (fn [[level m]] (and (= 3 level) (string/includes? m "REMOTE HOST IDENTIFICATION HAS CHANGED")))
                                    @logged))
          "the warning reaches :debug-fn at error level")
      (is (= before (slurp kh)) "the new key is not recorded")
      (let [e (n/ex #(session/set-port-forwarding-local s {:local-port 0 :remote-host "localhost" :remote-port c/port}))]
        (is (= :bbssh/host-key-changed (:type (:data e))))
        (is (string/includes? (:message e) "port forwarding is disabled")))
      (let [e (n/ex #(session/set-port-forwarding-remote s {:remote-port 0 :local-host "localhost" :local-port 9}))]
        (is (= :bbssh/host-key-changed (:type (:data e)))))
      (let [e (n/ex #(bbssh/exec s "true" {:agent-forwarding true}))]
        (is (= :bbssh/host-key-changed (:type (:data e))))
        (is (string/includes? (:message e) "agent forwarding is disabled")))
      (session/disconnect s))
    (let [kh (stale-known-hosts "kh-forward")
          e (n/ex #(bbssh/ssh c/host (key-opts kh {:strict-host-key-checking false
                                                   :port-forward-local [{:local-port 0 :remote-host "localhost"
                                                                         :remote-port c/port}]})))]
      (is (= :bbssh/host-key-changed (:type (:data e))) "forwards asked for at connect fail the connect")))
  (testing ":accept-host-key true goes on the same way"
    (let [s (bbssh/ssh c/host (key-opts (stale-known-hosts "kh-accept") {:accept-host-key true}))]
      (is (= "ok\n" (:out @(bbssh/exec s "echo ok" {:out :string}))))
      (session/disconnect s)))
  (testing "the default, :accept-host-key :new and strict checking refuse"
    (doseq [m [{} {:accept-host-key :new} {:strict-host-key-checking :accept-new}
               {:strict-host-key-checking true :accept-host-key true}]]
      (let [e (n/ex #(bbssh/ssh c/host (key-opts (stale-known-hosts "kh-refuse") m)))]
        (is (= :bbssh/host-key-changed (:type (:data e))) (pr-str m))
        (is (string/includes? (:message e) "refusing to connect") (pr-str m))))))

(c/run-tests-and-exit 'e2e.compat06-test)
