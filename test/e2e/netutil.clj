;; Network helpers for the end-to-end scripts: echo servers on TCP (IPv4
;; and IPv6) and unix sockets, and round trips that stream a deterministic
;; byte sequence and compare sha256 digests, so 64 MiB need no big arrays.
(ns e2e.netutil
  (:require [babashka.fs :as fs]
            [clojure.java.io :as io])
  (:import [java.net InetAddress InetSocketAddress ServerSocket Socket]
           [java.nio ByteBuffer]
           [java.nio.channels ServerSocketChannel SocketChannel]
           [java.nio.file Files Path]
           [java.nio.file.attribute FileAttribute PosixFilePermissions]
           [java.security MessageDigest]))

(defn- serve-forever
  "Accepts connections from accept-fn until it throws (the server closed),
  handling each on its own thread."
  [accept-fn handle]
  (future
    (loop []
      (when-let [conn (try (accept-fn) (catch Exception _ nil))]
        (future (try (handle conn) (catch Exception _ nil)))
        (recur)))))

(defn- echo-streams
  "Copies in to out, then half-closes via shutdown-fn."
  [^java.io.InputStream in ^java.io.OutputStream out shutdown-fn]
  (io/copy in out :buffer-size 65536)
  (.flush out)
  (shutdown-fn))

(defn echo-server
  "A TCP echo server on address (\"127.0.0.1\" or \"::1\"); returns the
  ServerSocket."
  ([] (echo-server "127.0.0.1"))
  ([address]
   (let [server (ServerSocket. 0 1000 (InetAddress/getByName address))]
     (serve-forever #(.accept server)
                    (fn [^Socket conn]
                      (with-open [conn conn]
                        (echo-streams (.getInputStream conn) (.getOutputStream conn)
                                      #(.shutdownOutput conn)))))
     server)))

(defn temp-dir
  "A new temporary directory that every user may enter, so that the test
  user's sshd can reach sockets in it. It and what the test put in it are
  deleted when the script exits."
  ^String []
  (let [dir (Files/createTempDirectory "bbssh-e2e" (make-array FileAttribute 0))]
    (Files/setPosixFilePermissions dir (PosixFilePermissions/fromString "rwxr-xr-x"))
    (.addShutdownHook (Runtime/getRuntime) (Thread. #(fs/delete-tree dir)))
    (str dir)))

(defn- channel-in
  "An InputStream over a SocketChannel that, unlike Channels/newInputStream,
  does not lock out a concurrent writer."
  ^java.io.InputStream [^SocketChannel ch]
  (proxy [java.io.InputStream] []
    (read
      ([] (let [b (byte-array 1)] (if (neg? (.read this b 0 1)) -1 (bit-and 0xff (aget b 0)))))
      ([bs] (.read this bs 0 (alength ^bytes bs)))
      ([bs off len] (if (zero? len) 0 (.read ch (ByteBuffer/wrap bs off len)))))))

(defn- channel-out
  "An OutputStream over a SocketChannel, usable while another thread reads."
  ^java.io.OutputStream [^SocketChannel ch]
  (proxy [java.io.OutputStream] []
    (write
      ([b] (if (bytes? b)
             (.write this ^bytes b 0 (alength ^bytes b))
             (.write this (byte-array [(unchecked-byte b)]) 0 1)))
      ([bs off len] (let [buf (ByteBuffer/wrap bs off len)]
                      (while (.hasRemaining buf) (.write ch buf)))))
    (flush [])))

(defn unix-echo-server
  "A unix-socket echo server at path, open to every user; returns the
  ServerSocketChannel."
  [^String path]
  (let [server (ServerSocketChannel/open java.net.StandardProtocolFamily/UNIX)]
    (.bind server (java.net.UnixDomainSocketAddress/of path))
    (Files/setPosixFilePermissions (Path/of path (make-array String 0))
                                   (PosixFilePermissions/fromString "rw-rw-rw-"))
    (serve-forever #(.accept server)
                   (fn [^SocketChannel ch]
                     (with-open [ch ch]
                       (echo-streams (channel-in ch) (channel-out ch) #(.shutdownOutput ch)))))
    server))

(defn free-port
  "A TCP port that was free on 127.0.0.1 a moment ago."
  []
  (with-open [s (ServerSocket. 0 1 (InetAddress/getByName "127.0.0.1"))]
    (.getLocalPort s)))

(defn- pattern-chunk
  "Chunk i of the byte sequence of seed: 1 MiB of pseudo-random bytes."
  ^bytes [seed i]
  (let [bs (byte-array (* 1024 1024))]
    (.nextBytes (java.util.Random. (+ (* 1000003 seed) i)) bs)
    bs))

(defn- stream-round-trip
  "Writes n bytes of the sequence of seed to out (then calls done-writing)
  while reading in to its end; returns {:sent sha :received sha :count n}.
  midway, when given, is called once half the bytes are written."
  [^java.io.OutputStream out ^java.io.InputStream in n seed done-writing & [midway]]
  (let [sent-md (MessageDigest/getInstance "SHA-256")
        writer (future
                 (loop [left n, i 0]
                   (when (and midway (= i (quot (quot n (* 1024 1024)) 2)))
                     (.flush out)
                     (midway))
                   (when (pos? left)
                     (let [chunk (pattern-chunk seed i)
                           k (int (min left (alength chunk)))]
                       (.write out chunk 0 k)
                       (.update sent-md chunk 0 k)
                       (recur (- left k) (inc i)))))
                 (.flush out)
                 (done-writing)
                 (vec (.digest sent-md)))
        md (MessageDigest/getInstance "SHA-256")
        buf (byte-array 65536)
        got (loop [total 0]
              (let [k (.read in buf)]
                (if (neg? k)
                  total
                  (do (.update md buf 0 k) (recur (+ total k))))))]
    {:sent @writer :received (vec (.digest md)) :count got}))

(defn round-trip
  "Sends n bytes (seeded by seed) to an echo service behind host:port and
  reads the echo; true when all n bytes came back intact."
  ([port n] (round-trip "127.0.0.1" port n 1))
  ([host port n seed] (round-trip host port n seed nil))
  ([host port n seed midway]
   (with-open [sock (Socket. ^String host (int port))]
     (let [{:keys [sent received count]}
           (stream-round-trip (.getOutputStream sock) (.getInputStream sock) n seed
                              #(.shutdownOutput sock) midway)]
       (and (= n count) (= sent received))))))

(defn unix-round-trip
  "As round-trip, through the unix socket at path."
  [^String path n seed]
  (with-open [ch (SocketChannel/open (java.net.UnixDomainSocketAddress/of path))]
    (let [{:keys [sent received count]}
          (stream-round-trip (channel-out ch) (channel-in ch) n seed #(.shutdownOutput ch))]
      (and (= n count) (= sent received)))))

(defn socket-round-trip
  "As round-trip over an already connected java.net.Socket, which it closes."
  [^Socket sock n seed]
  (with-open [sock sock]
    (let [{:keys [sent received count]}
          (stream-round-trip (.getOutputStream sock) (.getInputStream sock) n seed
                             #(.shutdownOutput sock))]
      (and (= n count) (= sent received)))))

(defn ex
  "Calls f; returns nil, or {:message :data} of the ex-info it threw."
  [f]
  (try (f) nil (catch clojure.lang.ExceptionInfo e {:message (ex-message e) :data (ex-data e)})))

(defn wait-until
  "Polls pred every 50 ms for at most ms milliseconds; returns its last value."
  [ms pred]
  (loop [left ms]
    (let [v (pred)]
      (if (or v (<= left 0))
        v
        (do (Thread/sleep 50) (recur (- left 50)))))))
