# What `cmake --install` puts in place for programs that embed the runtime:
#   lib/libedge.a (libedge.so with -DBUILD_SHARED_LIBS=ON): the core runtime
#     and its kernels (the objects of edge_runtime and edge_ops), whose public
#     face is the C API;
#   include/edge/edge.h: that C API, the only public header;
#   lib/cmake/edge/: the CMake package, find_package(edge) -> edge::runtime;
#   lib/pkgconfig/edge.pc;
#   bin/edge-run (runtime/CMakeLists.txt).
# The tests and tools keep linking the internal static libraries.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

add_library(edge $<TARGET_OBJECTS:edge_runtime> $<TARGET_OBJECTS:edge_ops>)
add_library(edge::runtime ALIAS edge)
# While the major version is 0 a minor release may grow an options struct
# (edge.h, "ABI rule"): the soname carries MAJOR.MINOR until 1.0.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(EDGE_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(EDGE_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()
set_target_properties(edge PROPERTIES EXPORT_NAME runtime LINKER_LANGUAGE CXX
  VERSION ${PROJECT_VERSION} SOVERSION ${EDGE_SOVERSION})
target_include_directories(edge INTERFACE
  $<BUILD_INTERFACE:${CMAKE_CURRENT_BINARY_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# The header as the package lays it out (#include <edge/edge.h>), for
# programs built in this tree against edge::runtime.
configure_file(runtime/edge.h ${CMAKE_CURRENT_BINARY_DIR}/include/edge/edge.h COPYONLY)

# Libraries the runtime's objects call. A shared libedge links them itself; a
# static one hands them on to the program: as imported targets edge::<name>
# that edgeConfig.cmake defines again where the package is used (imported
# targets are not exported), and as -l flags in edge.pc.
set(EDGE_PACKAGE_DEPS cpuinfo pthreadpool)
set(EDGE_PACKAGE_DEP_PATHS ${CPUINFO_LIBRARY} ${PTHREADPOOL_LIBRARY})
if(EDGE_WITH_XNNPACK)
  list(APPEND EDGE_PACKAGE_DEPS XNNPACK)
  list(APPEND EDGE_PACKAGE_DEP_PATHS ${XNNPACK_LIBRARY})
endif()
target_link_libraries(edge PRIVATE Threads::Threads m)
set(EDGE_PC_DEP_FLAGS "")
foreach(dep path IN ZIP_LISTS EDGE_PACKAGE_DEPS EDGE_PACKAGE_DEP_PATHS)
  target_link_libraries(edge PRIVATE $<BUILD_INTERFACE:${path}>)
  if(NOT BUILD_SHARED_LIBS)
    target_link_libraries(edge INTERFACE $<INSTALL_INTERFACE:edge::${dep}>)
  endif()
  string(APPEND EDGE_PC_DEP_FLAGS " -l${dep}")
endforeach()
string(APPEND EDGE_PC_DEP_FLAGS " -lstdc++ -lm -pthread")

if(BUILD_SHARED_LIBS)
  # Only the C API leaves the library; the C++ inside stays private.
  target_link_options(edge PRIVATE -Wl,--version-script=${CMAKE_CURRENT_SOURCE_DIR}/cmake/edge.map)
  set_property(TARGET edge APPEND PROPERTY LINK_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cmake/edge.map)
  set(EDGE_PC_LIBS "")
  set(EDGE_PC_LIBS_PRIVATE "${EDGE_PC_DEP_FLAGS}")
else()
  set(EDGE_PC_LIBS "${EDGE_PC_DEP_FLAGS}")
  set(EDGE_PC_LIBS_PRIVATE "")
endif()

set(EDGE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/edge)
install(TARGETS edge EXPORT edgeTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES runtime/edge.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/edge)
install(EXPORT edgeTargets NAMESPACE edge:: DESTINATION ${EDGE_CMAKE_DIR})
set(EDGE_PACKAGE_SHARED ${BUILD_SHARED_LIBS})
configure_package_config_file(cmake/edgeConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/edgeConfig.cmake
  INSTALL_DESTINATION ${EDGE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/edgeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/edgeConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/edgeConfigVersion.cmake
  DESTINATION ${EDGE_CMAKE_DIR})

# edge.pc finds its prefix from where it lies, so the tree can be moved.
file(RELATIVE_PATH EDGE_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" EDGE_PC_TO_PREFIX "${EDGE_PC_TO_PREFIX}")
configure_file(cmake/edge.pc.in ${CMAKE_CURRENT_BINARY_DIR}/edge.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/edge.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
