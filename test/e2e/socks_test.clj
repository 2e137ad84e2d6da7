;; Dynamic forwarding (ssh -D, and ssh -R with only a port) through the
;; real sshd: SOCKS5 by name and by address, SOCKS4 and SOCKS4a, refusals,
;; many clients at once, bytes verified by sha256.
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/common.clj"))
(load-file (str (System/getenv "BBSSH_E2E_DIR") "/netutil.clj"))
(ns e2e.socks-test
  (:require [clojure.test :refer [deftest is testing]]
            [e2e.common :as c]
            [e2e.netutil :as n :refer [ex]])
  (:import [java.net InetSocketAddress Proxy Proxy$Type Socket]))

(c/load-pod!)
(require '[pod.epiccastle.bbssh.core :as bbssh]
         '[pod.epiccastle.bbssh.session :as session])

(def s (bbssh/ssh c/host (c/opts)))
(def echo (n/echo-server))
(def echo-port (.getLocalPort echo))

(defn socks5-socket
  "A socket connected through the SOCKS proxy at port (Java speaks SOCKS5)
  to target, an InetSocketAddress."
  ^Socket [port target]
  (doto (Socket. (Proxy. Proxy$Type/SOCKS (InetSocketAddress. "127.0.0.1" (int port))))
    (.connect target 10000)))

(defn raw-socks
  "Opens a plain socket to the proxy, writes request bytes and reads n reply
  bytes; returns [socket reply-vector]."
  [port request n]
  (let [sock (Socket. "127.0.0.1" (int port))
        _ (.setSoTimeout sock 10000)
        _ (doto (.getOutputStream sock) (.write (byte-array (map unchecked-byte request))) (.flush))
        reply (byte-array n)
        got (.readNBytes (.getInputStream sock) reply 0 n)]
    [sock (mapv #(bit-and 0xff %) (take got reply))]))

(defn port-bytes [p] [(bit-shift-right p 8) (bit-and p 0xff)])

(deftest socks5-by-name-and-by-address
  (let [port (session/set-port-forwarding-dynamic s {:local-port 0})]
    (is (pos? port))
    (is (= [{:local-port port}] (session/get-port-forwarding-dynamic s)))
    (is (n/socket-round-trip (socks5-socket port (InetSocketAddress/createUnresolved "localhost" echo-port))
                             (* 64 1024 1024) 1)
        "64 MiB each way, the server resolving the name")
    (is (n/socket-round-trip (socks5-socket port (InetSocketAddress. "127.0.0.1" (int echo-port))) 1000000 2)
        "by IPv4 address")
    (let [stats (meta (first (session/get-port-forwarding-dynamic s)))]
      (is (= 2 (:total-connections stats)))
      (is (<= (* 64 1024 1024) (:bytes-out stats))))
    (session/delete-port-forwarding-dynamic s {:local-port port})
    (is (= [] (session/get-port-forwarding-dynamic s)))))

(deftest socks4-and-socks4a
  (let [port (session/set-port-forwarding-dynamic s "127.0.0.1:0")]
    (testing "SOCKS4a: the host name after the user id"
      (let [[sock reply] (raw-socks port (concat [4 1] (port-bytes echo-port) [0 0 0 1] (.getBytes "me") [0]
                                                 (.getBytes "127.0.0.1") [0])
                                    8)]
        (is (= [0 0x5a] (take 2 reply)))
        (is (n/socket-round-trip sock 1000000 3))))
    (testing "SOCKS4 with an IPv4 address"
      (let [[sock reply] (raw-socks port (concat [4 1] (port-bytes echo-port) [127 0 0 1] [0]) 8)]
        (is (= [0 0x5a] (take 2 reply)))
        (is (n/socket-round-trip sock 1000000 4))))
    (session/delete-port-forwarding-dynamic s (str "127.0.0.1:" port))))

(deftest refusals
  (let [port (session/set-port-forwarding-dynamic s {:local-port 0 :connect-timeout 10000})
        dead (n/free-port)]
    (testing "SOCKS5 to a closed port: connection refused (5)"
      (let [[sock reply] (raw-socks port (concat [5 1 0 5 1 0 1 127 0 0 1] (port-bytes dead)) 12)]
        (is (= [5 0 5 5] (take 4 reply)))
        (.close sock)))
    (testing "SOCKS4 to a closed port: rejected (0x5b)"
      (let [[sock reply] (raw-socks port (concat [4 1] (port-bytes dead) [127 0 0 1 0]) 8)]
        (is (= [0 0x5b] (take 2 reply)))
        (.close sock)))
    (testing "SOCKS5 BIND is not supported (7)"
      (let [[sock reply] (raw-socks port (concat [5 1 0 5 2 0 1 127 0 0 1] (port-bytes echo-port)) 12)]
        (is (= [5 0 5 7] (take 4 reply)))
        (.close sock)))
    (testing "username/password only: no acceptable method"
      (let [[sock reply] (raw-socks port [5 1 2] 2)]
        (is (= [5 0xff] reply))
        (.close sock)))
    (testing "not SOCKS at all: closed"
      (let [[sock reply] (raw-socks port (.getBytes "GET / HTTP/1.0\r\n\r\n") 1)]
        (is (= [] reply))
        (.close sock)))
    (is (re-find #"socks" (str (:last-error (meta (first (session/get-port-forwarding-dynamic s)))))))
    (is (n/socket-round-trip (socks5-socket port (InetSocketAddress/createUnresolved "127.0.0.1" echo-port)) 100000 5)
        "the proxy keeps serving")
    (session/delete-port-forwarding-dynamic s {:local-port port})))

(deftest many-socks-clients-at-once
  (let [port (session/set-port-forwarding-dynamic s {:local-port 0})
        jobs (doall (for [i (range 100)]
                      (future (n/socket-round-trip (socks5-socket port (InetSocketAddress/createUnresolved "127.0.0.1" echo-port))
                                                   (+ 1000 (* i 3001)) (+ 100 i)))))]
    (is (every? true? (map deref jobs)))
    (is (= 100 (:total-connections (meta (first (session/get-port-forwarding-dynamic s))))))
    (session/delete-port-forwarding-dynamic s {:local-port port})))

(deftest remote-dynamic-forward
  ;; ssh -R 127.0.0.1:0: sshd listens, SOCKS is spoken here and targets are
  ;; dialled from this machine
  (let [rport (session/set-port-forwarding-remote s "127.0.0.1:0")]
    (is (pos? rport))
    (is (= [{:bind-address "127.0.0.1" :remote-port rport :dynamic true}] (session/get-port-forwarding-remote s)))
    (is (n/socket-round-trip (socks5-socket rport (InetSocketAddress/createUnresolved "127.0.0.1" echo-port)) 4000000 6))
    (session/delete-port-forwarding-remote s {:remote-port rport}))
  (let [rport (session/set-port-forwarding-remote s {:remote-port 0 :dynamic true})]
    (is (n/socket-round-trip (socks5-socket rport (InetSocketAddress. "127.0.0.1" (int echo-port))) 100000 7))
    (session/delete-port-forwarding-remote s {:remote-port rport})))

(deftest dynamic-errors
  (is (= :bbssh/bad-option (-> (ex #(session/set-port-forwarding-dynamic s {:local-port 0 :remote-host "x"})) :data :type)))
  (is (= :bbssh/bad-option (-> (ex #(session/set-port-forwarding-dynamic s "db:9000:x")) :data :type)))
  (is (= :bbssh/bad-option (-> (ex #(session/set-port-forwarding-remote s {:remote-port 0 :dynamic true :local-port 1})) :data :type)))
  (is (= :bbssh/no-such-forward (-> (ex #(session/delete-port-forwarding-dynamic s {:local-port 1})) :data :type)))
  (with-open [busy (java.net.ServerSocket. 0 1 (java.net.InetAddress/getByName "127.0.0.1"))]
    (is (= :bbssh/forward-failed (-> (ex #(session/set-port-forwarding-dynamic s {:local-port (.getLocalPort busy)})) :data :type)))))

(c/run-tests-and-exit 'e2e.socks-test)
