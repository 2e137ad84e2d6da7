;; Expose a local development server on a remote machine (ssh -R): the
;; server listens on a port and every connection comes back here.
;;
;;   bb examples/expose_dev_server.clj HOST LOCAL_PORT [REMOTE_PORT [BIND_ADDRESS]]
;;
;;   bb examples/expose_dev_server.clj demo.example.com 3000 8080 0.0.0.0
;;
;; REMOTE_PORT 0 (the default) lets the server pick one. A BIND_ADDRESS
;; other than 127.0.0.1 needs GatewayPorts on the server. Stays up until
;; Ctrl-C or end of input, printing each connection's figures when it ends.
;; The pod is $BBSSH_POD, else `bbssh` on the PATH.
(require '[babashka.pods :as pods])
(pods/load-pod (or (System/getenv "BBSSH_POD") "bbssh") {:transport :socket})
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(let [[host local-port remote-port bind] *command-line-args*]
  (when-not (and host local-port)
    (binding [*out* *err*]
      (println "usage: expose_dev_server.clj HOST LOCAL_PORT [REMOTE_PORT [BIND_ADDRESS]]"))
    (System/exit 2))
  (let [s (bbssh/ssh host {:keepalive-interval 30000})
        port (session/set-port-forwarding-remote
              s (cond-> {:remote-port (parse-long (or remote-port "0"))
                         :local-host "127.0.0.1"
                         :local-port (parse-long local-port)}
                  bind (assoc :bind-address bind)))]
    (println (format "exposed: %s:%d on %s -> 127.0.0.1:%s" (or bind "127.0.0.1") port host local-port))
    (flush)
    (slurp *in*)
    (let [figures (meta (first (session/get-port-forwarding-remote s)))]
      (println (format "done: %d connections, %d bytes in, %d bytes out"
                       (:total-connections figures) (:bytes-in figures) (:bytes-out figures))))
    (session/disconnect s)))
