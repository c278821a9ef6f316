# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

from nova import test
from nova.virt import fake


class FakeDriverCapabilitiesTest(test.NoDBTestCase):

    def test_default_capabilities(self):
        drv = fake.FakeDriver(None)
        self.assertTrue(drv.capabilities['supports_evacuate'])

    def test_migrate_to_same_host_disabled(self):
        fake.FakeDriver.capabilities['supports_migrate_to_same_host'] = False
        drv = fake.FakeDriver(None)
        self.assertFalse(drv.capabilities['supports_migrate_to_same_host'])

    def test_vcpus_override(self):
        fake.FakeDriver.vcpus = 4
        drv = fake.FakeDriver(None)
        self.assertEqual(4, drv.get_available_resource('node')['vcpus'])
