;; Tunnel to a database that only the server can reach (ssh -L), then run
;; a client through it, or hold the tunnel open until Ctrl-C / end of input.
;;
;;   bb examples/db_tunnel.clj HOST DB_HOST:DB_PORT [LOCAL_PORT] [-- COMMAND ARGS...]
;;
;;   bb examples/db_tunnel.clj bastion db.internal:5432 -- psql -h 127.0.0.1 -p {port} app
;;
;; In COMMAND, {port} is replaced by the local port of the tunnel (a free
;; one unless LOCAL_PORT is given). The pod is $BBSSH_POD, else `bbssh` on
;; the PATH.
(require '[babashka.pods :as pods]
         '[clojure.string :as str])
(pods/load-pod (or (System/getenv "BBSSH_POD") "bbssh") {:transport :socket})
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(defn usage []
  (binding [*out* *err*]
    (println "usage: db_tunnel.clj HOST DB_HOST:DB_PORT [LOCAL_PORT] [-- COMMAND ARGS...]"))
  (System/exit 2))

(let [[args command] (split-with #(not= "--" %) *command-line-args*)
      [host target local-port] args
      [_ db-host db-port] (some->> target (re-matches #"(.+):(\d+)"))
      command (rest command)]
  (when-not (and host db-host) (usage))
  (let [s (bbssh/ssh host)
        port (session/set-port-forwarding-local
              s {:local-port (if local-port (parse-long local-port) 0)
                 :remote-host db-host
                 :remote-port (parse-long db-port)})]
    (binding [*out* *err*]
      (println (format "tunnel: 127.0.0.1:%d -> %s:%s through %s" port db-host db-port host)))
    (if (seq command)
      (let [argv (mapv #(str/replace % "{port}" (str port)) command)
            exit (-> (ProcessBuilder. ^java.util.List argv) (.inheritIO) (.start) (.waitFor))]
        (session/disconnect s)
        (System/exit exit))
      (do (binding [*out* *err*] (println "open until Ctrl-C or end of input"))
          (slurp *in*)
          (session/disconnect s)))))
