;; Quick start: connect, run a command, and carry real traffic through a
;; local forward (ssh -L) and a remote forward (ssh -R).
;;
;; Run with `./build.sh demo`, which starts a throwaway OpenSSH sshd on
;; 127.0.0.1 and sets the BBSSH_TEST_* variables; or set them yourself.
(require '[babashka.pods :as pods])
(pods/load-pod (or (System/getenv "BBSSH_POD") "build/bbssh") {:transport :socket})
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session]
         '[clojure.java.io :as io])

(def env #(or (System/getenv %) (throw (ex-info (str "set " %) {}))))

(def s (bbssh/ssh (env "BBSSH_TEST_HOST")
                  {:port (Integer/parseInt (env "BBSSH_TEST_PORT"))
                   :username (env "BBSSH_TEST_USER")
                   :identity (env "BBSSH_TEST_IDENTITY")
                   :known-hosts (env "BBSSH_TEST_KNOWN_HOSTS")}))
(println "connected:" s)

;; exec
(println "remote says:" (-> (bbssh/exec s "echo hello from $(hostname)" {:out :string}) deref :out))
(println "exit code of `exit 3`:" (:exit @(bbssh/exec s "exit 3")))

;; A small echo server on this machine, to have real traffic to carry.
(def echo-server (java.net.ServerSocket. 0 50 (java.net.InetAddress/getByName "127.0.0.1")))
(future
  (loop []
    (when-let [c (try (.accept echo-server) (catch Exception _ nil))]
      (future
        (with-open [c c]
          (let [in (.getInputStream c) out (.getOutputStream c)]
            (io/copy in out)
            (.flush out))))
      (recur))))

(defn round-trip
  "Sends text to 127.0.0.1:port, half-closes, and reads the answer."
  [port text]
  (with-open [sock (java.net.Socket. "127.0.0.1" (int port))]
    (.write (.getOutputStream sock) (.getBytes ^String text))
    (.shutdownOutput sock)
    (slurp (.getInputStream sock))))

;; Remote forward: the server listens on a port it picks and sends every
;; connection back to our echo server.
(def remote-port (session/set-port-forwarding-remote s {:remote-port 0 :local-port (.getLocalPort echo-server)}))
(println "remote forward:" (session/get-port-forwarding-remote s))

;; Local forward: we listen on a free port and every connection reaches,
;; from the server, the remote forward's port, and so our echo server.
(def local-port (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port remote-port}))
(println "local forward:" (session/get-port-forwarding-local s))

(let [answer (round-trip local-port "ping through -L and -R")]
  (println "echoed back:" answer)
  (when-not (= answer "ping through -L and -R")
    (throw (ex-info "forwarded traffic was not echoed intact" {:answer answer}))))

(println "local forward figures:" (meta (first (session/get-port-forwarding-local s))))
(session/disconnect s)
(.close echo-server)
(println "done")
