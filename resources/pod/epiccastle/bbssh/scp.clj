(ns pod.epiccastle.bbssh.scp
  "Implementation of the scp protocol."
  (:require [pod.epiccastle.bbssh.core :as core]))
