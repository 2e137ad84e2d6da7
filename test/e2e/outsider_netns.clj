;; Run by TestRemoteForwardRefusesOutsiders in a network namespace of its
;; own where BBSSH_OUTSIDE_ADDR is a second, non-loopback address: the
;; real sshd listens on 127.0.0.1 for a remote forward, a client connects
;; to it from the outside address, and the pod refuses what the server
;; lets in from there while loopback clients are carried as usual.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.outsider-netns
  (:require [clojure.test :refer [deftest is testing]]
            [e2e.common :as c]
            [e2e.netutil :as n])
  (:import [java.net InetAddress InetSocketAddress Socket]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(def outside (c/env "BBSSH_OUTSIDE_ADDR"))
(def s (bbssh/ssh c/host (c/opts)))
(def echo (n/echo-server))

(defn from-outside
  "Connects to 127.0.0.1:port from the outside address, writes a line and
  returns what came back before the connection ended: nil when it was
  closed or reset unanswered."
  [port]
  (with-open [sock (Socket.)]
    (.bind sock (InetSocketAddress. (InetAddress/getByName outside) 0))
    (.connect sock (InetSocketAddress. "127.0.0.1" (int port)) 5000)
    (.setSoTimeout sock 10000)
    (try
      (.write (.getOutputStream sock) (.getBytes "hello\n"))
      (.shutdownOutput sock)
      (let [b (.readAllBytes (.getInputStream sock))]
        (when (pos? (count b)) (String. b)))
      (catch java.net.SocketException _ nil))))

(defn stats [rport]
  (meta (first (filter #(= rport (:remote-port %)) (session/get-port-forwarding-remote s)))))

(deftest outsiders-are-refused-when-bound-to-loopback
  (doseq [[what opts] [["default" {:local-port (.getLocalPort echo)}]
                       ["127.0.0.1" {:bind-address "127.0.0.1" :local-port (.getLocalPort echo)}]
                       ["handler" {:handler (fn [{:keys [in out]}] (clojure.java.io/copy in out))}]]]
    (testing what
      (let [rport (session/set-port-forwarding-remote s (assoc opts :remote-port 0))]
        (is (n/round-trip "127.0.0.1" rport 100000 1) "a loopback client is carried")
        (is (nil? (from-outside rport)) "a client from outside gets nothing back")
        (is (n/wait-until 5000 #(= 1 (:refused-connections (stats rport)))))
        (is (re-find (re-pattern (str "refused a connection from " outside)) (str (:last-error (stats rport)))))
        (is (= 1 (:total-connections (stats rport))) "only the loopback client was carried")
        (is (n/round-trip "127.0.0.1" rport 100000 2) "and loopback clients still are")
        (session/delete-port-forwarding-remote s {:remote-port rport})))))

(deftest outsiders-are-carried-when-asked-for
  (let [rport (session/set-port-forwarding-remote s {:bind-address "*" :remote-port 0 :local-port (.getLocalPort echo)})]
    (is (= "hello\n" (from-outside rport)) "bound to every interface, the outside client is served")
    (is (nil? (:refused-connections (stats rport))))
    (session/delete-port-forwarding-remote s {:remote-port rport})))

(c/run-tests-and-exit 'e2e.outsider-netns)
