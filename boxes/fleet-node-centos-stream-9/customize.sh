# Docker CE from Docker's own repository: Red Hat's releases ship no Docker (the article's cookbook used
# the docker cookbook, which does the same). Added here rather than in box.yml's packages, which are
# installed before this script runs. Installed, not enabled: the provisioning starts it. The repository's
# address and key come from box.yml's build_env (yum expands a $releasever or $basearch in them).
cat > /etc/yum.repos.d/docker-ce.repo <<REPO
[docker-ce-stable]
name=Docker CE Stable
baseurl=${DOCKER_CE_BASEURL}
enabled=1
gpgcheck=1
gpgkey=${DOCKER_CE_GPGKEY}
REPO
dnf install -y --setopt=install_weak_deps=False docker-ce docker-ce-cli containerd.io
