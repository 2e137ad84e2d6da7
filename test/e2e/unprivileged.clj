;; Run by TestPrivilegedPortAsNonRoot with the pod running as a non-root
;; user: a local forward on a privileged port fails clearly, and the
;; session and its other forwards go on working.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.unprivileged
  (:require [clojure.test :refer [deftest is]]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(def privileged (Integer/parseInt (c/env "BBSSH_PRIVILEGED_PORT")))

(deftest privileged-local-port-as-non-root
  ;; the pod cannot read the root-owned key and known_hosts files: give it
  ;; the key itself and a readable copy of known_hosts
  (let [known-hosts (str (n/temp-dir) "/known_hosts")
        _ (spit known-hosts (slurp (c/env "BBSSH_TEST_KNOWN_HOSTS")))
        s (bbssh/ssh c/host (c/opts {:identity nil
                                     :private-key (slurp (c/env "BBSSH_TEST_IDENTITY"))
                                     :known-hosts known-hosts}))
        echo (n/echo-server)
        keeper (session/set-port-forwarding-local s {:local-port 0 :remote-host "127.0.0.1" :remote-port (.getLocalPort echo)})
        e (ex #(session/set-port-forwarding-local s {:local-port privileged :remote-host "127.0.0.1" :remote-port 22}))]
    (is (= :bbssh/forward-failed (-> e :data :type)))
    (is (re-find (re-pattern (str "port " privileged " is privileged and the pod is not running as root")) (str (:message e))))
    (is (n/round-trip "127.0.0.1" keeper 100000 1) "the other forward still works")
    (is (= [keeper] (map :local-port (session/get-port-forwarding-local s))))
    (is (= "ok\n" (-> (bbssh/exec s "echo ok" {:out :string}) deref :out)))))

(c/run-tests-and-exit 'e2e.unprivileged)
