#!/bin/sh
# Write a libpurple config dir (Finch or Pidgin) with a ready AMM account that logs in at start:
#   purple-config.sh DIR UI PORT CA_FILE PLUGIN
# UI is the libpurple UI id: gnt-purple (Finch) or gtk-gaim (Pidgin). The plugin is copied to
# DIR/plugins. alice@example.com / alice-pw on 127.0.0.1:PORT over TLS trusting CA_FILE, and bob
# in the buddy list. Used by `make demo` (tests/demo.sh) and by the client tests, so the tests
# check the demo's configuration.
set -eu
dir=$1 ui=$2 port=$3 ca=$4 plugin=$5
mkdir -p "$dir/plugins"
cp "$plugin" "$dir/plugins/libamm.so"
cat >"$dir/accounts.xml" <<XML
<?xml version='1.0' encoding='UTF-8' ?>
<account version='1.0'>
 <account>
  <protocol>prpl-amm</protocol>
  <name>alice@example.com</name>
  <password>alice-pw</password>
  <alias>Alice Liddell</alias>
  <settings>
   <setting name='server' type='string'>127.0.0.1</setting>
   <setting name='port' type='int'>$port</setting>
   <setting name='use-tls' type='bool'>1</setting>
   <setting name='ca-file' type='string'>$ca</setting>
  </settings>
  <settings ui='$ui'>
   <setting name='auto-login' type='bool'>1</setting>
  </settings>
 </account>
</account>
XML
cat >"$dir/blist.xml" <<XML
<?xml version='1.0' encoding='UTF-8' ?>
<purple version='1.0'>
 <blist>
  <group name='AMM'>
   <contact>
    <buddy account='alice@example.com' proto='prpl-amm'><name>bob@example.com</name><alias>Bob Builder</alias></buddy>
   </contact>
  </group>
 </blist>
</purple>
XML
