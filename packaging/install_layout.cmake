# Run by `cmake --install` (and by cpack): what lives outside the prefix (/etc, /var, the
# unit's directory) is placed from the prefix installed to, not the one configured, so one
# build tree installs to /usr/local and packages for /usr alike. The rules are
# GNUInstallDirs': prefix /usr or / -> /etc and /var; /opt/P -> /etc/opt/P and /var/opt/P;
# any other -> PREFIX/etc and PREFIX/var. An absolute CMAKE_INSTALL_SYSCONFDIR or
# CMAKE_INSTALL_LOCALSTATEDIR given at configure time wins.
#
# In: HUB_SOURCE_DIR, HUB_BINARY_DIR, HUB_BINDIR, HUB_DATADIR, HUB_DOCDIR (relative),
#     HUB_SYSCONFDIR, HUB_LOCALSTATEDIR (as configured), CMAKE_INSTALL_PREFIX, $ENV{DESTDIR}.
string(REGEX REPLACE "/+$" "" prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "" OR prefix STREQUAL "/usr")
  set(sysconf /etc)
  set(localstate /var)
  set(runstate /run)  # /var/run is a link to /run wherever systemd runs
  set(unitdir /lib/systemd/system)  # Debian 12's place for packaged units
else()
  if(prefix MATCHES "^/opt/")
    set(sysconf /etc${prefix})
    set(localstate /var${prefix})
  else()
    set(sysconf ${prefix}/etc)
    set(localstate ${prefix}/var)
  endif()
  set(runstate ${localstate}/run)
  set(unitdir ${prefix}/lib/systemd/system)
endif()
if(IS_ABSOLUTE "${HUB_SYSCONFDIR}")
  set(sysconf "${HUB_SYSCONFDIR}")
endif()
if(IS_ABSOLUTE "${HUB_LOCALSTATEDIR}")
  set(localstate "${HUB_LOCALSTATEDIR}")
endif()

# hub.yml's paths are relative to the root hubd runs on.
function(root_relative var path)
  string(REGEX REPLACE "^/+" "" relative "${path}")
  set(${var} "${relative}" PARENT_SCOPE)
endfunction()
root_relative(HUB_PATH_CONFIG "${sysconf}/hub/config")
root_relative(HUB_PATH_PACKAGED_MODULES "${prefix}/lib/hub/modules")
root_relative(HUB_PATH_ADMIN_MODULES "${sysconf}/hub/modules")
root_relative(HUB_PATH_EVENTS "${sysconf}/hub/events")
root_relative(HUB_PATH_SYSTEM "${prefix}/lib/hub/system")
root_relative(HUB_PATH_DATA "${localstate}/lib/hub/data")
root_relative(HUB_PATH_DB "${localstate}/lib/hub/db")
root_relative(HUB_PATH_RUN "${runstate}/hub")
root_relative(HUB_PATH_LOG "${localstate}/log/hub")
set(HUB_DOC_DIR "${prefix}/${HUB_DOCDIR}")
# Files made here are written apart for each destination, so installs may run at once.
string(MD5 destination "$ENV{DESTDIR}${prefix}")
set(staging "${HUB_BINARY_DIR}/packaging/installed/${destination}")
configure_file("${HUB_SOURCE_DIR}/packaging/hub.yml.in" "${staging}/hub.yml" @ONLY)
file(INSTALL "${staging}/hub.yml" DESTINATION "${sysconf}/hub"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# The administrator's places, empty: the package's maintainer scripts give /var's their
# owners and modes (hubd creates what is missing at start, too).
foreach(dir "${sysconf}/hub/config" "${sysconf}/hub/modules" "${sysconf}/hub/events")
  message(STATUS "Installing: $ENV{DESTDIR}${dir}")
  file(MAKE_DIRECTORY "$ENV{DESTDIR}${dir}")
endforeach()

# The unit, with the installed places of hubd and hub.yml.
file(READ "${HUB_SOURCE_DIR}/packaging/systemd/hubd.service" unit)
string(REPLACE "/usr/bin/hubd" "${prefix}/${HUB_BINDIR}/hubd" unit "${unit}")
string(REPLACE "/etc/hub/" "${sysconf}/hub/" unit "${unit}")
file(WRITE "${staging}/hubd.service" "${unit}")
file(INSTALL "${staging}/hubd.service" DESTINATION "${unitdir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(REMOVE_RECURSE "${staging}")
