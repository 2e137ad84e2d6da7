;; Talk to a remote Docker daemon through its unix socket, as
;; DOCKER_HOST=ssh://... does, without docker on the remote PATH: a local
;; unix socket forwards to the server's /var/run/docker.sock.
;;
;;   bb examples/docker_socket.clj HOST [REMOTE_SOCKET] [-- COMMAND ARGS...]
;;
;;   bb examples/docker_socket.clj build-box -- docker ps
;;
;; COMMAND runs with DOCKER_HOST set to the local socket, which is removed
;; afterwards; without one, the socket stays until Ctrl-C or end of input.
;; The pod is $BBSSH_POD, else `bbssh` on the PATH.
(require '[babashka.pods :as pods])
(pods/load-pod (or (System/getenv "BBSSH_POD") "bbssh") {:transport :socket})
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(let [[args command] (split-with #(not= "--" %) *command-line-args*)
      [host remote-socket] args
      remote-socket (or remote-socket "/var/run/docker.sock")
      command (rest command)
      dir (java.nio.file.Files/createTempDirectory "bbssh-docker" (make-array java.nio.file.attribute.FileAttribute 0))
      local-socket (str dir "/docker.sock")]
  (when-not host
    (binding [*out* *err*]
      (println "usage: docker_socket.clj HOST [REMOTE_SOCKET] [-- COMMAND ARGS...]"))
    (System/exit 2))
  (let [s (bbssh/ssh host)]
    (session/set-port-forwarding-local s {:local-unix-socket local-socket :remote-unix-socket remote-socket})
    (println (str "DOCKER_HOST=unix://" local-socket))
    (flush)
    (let [exit (if (seq command)
                 (let [pb (ProcessBuilder. ^java.util.List (vec command))]
                   (.put (.environment pb) "DOCKER_HOST" (str "unix://" local-socket))
                   (-> pb (.inheritIO) (.start) (.waitFor)))
                 (do (slurp *in*) 0))]
      (session/disconnect s)
      (.delete (.toFile dir))
      (System/exit exit))))
